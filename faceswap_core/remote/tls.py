"""A self-signed TLS certificate for a Triton server outside the home network.

The streaming PC trusts exactly this certificate (the filter's "server certificate" file),
not a public authority, so nobody else's certificate for the same address is accepted. It
names the host by every name and address given, since gRPC checks the address the client
dialled against them.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

VALIDITY_DAYS = 3650


def write_server_certificate(folder: str | Path, hosts: tuple[str, ...] | list[str]) -> tuple[Path, Path]:
    """server.crt and server.key (EC P-256) in folder, for these host names or addresses."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "obs-faceswap Triton server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(key, hashes.SHA256()))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path
