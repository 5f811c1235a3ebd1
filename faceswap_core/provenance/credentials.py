"""Content credentials (C2PA) on the files obs-faceswap writes, and reading them back.

Signed offline with c2pa-python and a certificate chain made once per install (a root,
an intermediate, a signer; ES256; a hundred years, since offline signing has no
timestamp authority to outlive the certificate), or the user's own certificate and key.
The root's and the intermediate's private keys are thrown away once the chain exists:
only the signer's key is ever needed, and it stays in the per-user data folder.

A manifest names what was done: the target opened (the input file as parent ingredient,
when there is a file), then edited with a trained algorithm (IPTC digital source type
compositeWithTrainedAlgorithmicMedia; the photo as an "inputTo" ingredient), the tool as
softwareAgent, and the invisible mark's payload as a soft binding, so a copy that lost
the manifest can still be tied to it.

Trust: a self-made chain reads as "valid" (the file is intact, its signer unknown); with
its root given as a trust anchor (`faceswap verify --trust root.pem`) as "trusted".
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import FaceSwapError
from ..model_catalog import sha256_file, user_data_dir
from . import mark_layout

TOOL = "obs-faceswap"
SOFT_BINDING_ALG = "org.obs-faceswap.mark.1"
SWAPPED = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4",
        ".mov": "video/quicktime", ".m4v": "video/mp4", ".webp": "image/webp"}
VALIDITY_DAYS = 36500
SIGNER_FILE, KEY_FILE, ROOT_FILE = "signer-chain.pem", "signer-key.pem", "root.pem"


def default_folder() -> Path:
    """$FACESWAP_CREDENTIALS_DIR, else the per-user data folder's credentials/."""
    override = os.environ.get("FACESWAP_CREDENTIALS_DIR")
    return Path(override).expanduser() if override else user_data_dir() / "credentials"


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise FaceSwapError("Content credentials need c2pa-python; run: pip install c2pa-python") from None
    return c2pa


@dataclass(frozen=True)
class Identity:
    chain_pem: bytes         # the signer's certificate, then the intermediate
    key_pem: bytes
    root_pem: bytes = b""    # what others give `faceswap verify --trust` (empty for one's own chain)

    @classmethod
    def from_files(cls, chain: str | os.PathLike, key: str | os.PathLike) -> "Identity":
        try:
            return cls(Path(chain).read_bytes(), Path(key).read_bytes())
        except OSError as error:
            raise FaceSwapError(f"The signing certificate or key could not be read ({error}); check the "
                                "paths given with --sign-cert and --sign-key.") from None


def ensure_identity(folder: str | os.PathLike | None = None) -> tuple[Identity, bool]:
    """The install's signing identity, made now if there is none; (identity, made_now)."""
    folder = Path(folder or default_folder())
    chain, key, root = folder / SIGNER_FILE, folder / KEY_FILE, folder / ROOT_FILE
    if chain.exists() and key.exists():
        return Identity(chain.read_bytes(), key.read_bytes(), root.read_bytes() if root.exists() else b""), False
    identity = make_identity()
    folder.mkdir(parents=True, exist_ok=True)
    root.write_bytes(identity.root_pem)
    chain.write_bytes(identity.chain_pem)
    descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(identity.key_pem)
    return identity, True


def chosen_identity(values: dict) -> tuple[Identity, str]:
    """The user's own certificate and key when given (settings sign_cert, sign_key), else
    the install's; the second item says when the install's was made just now."""
    cert, key = values.get("sign_cert", ""), values.get("sign_key", "")
    if cert or key:
        if not (cert and key):
            raise FaceSwapError("Give both --sign-cert and --sign-key (your certificate chain and its key).")
        return Identity.from_files(cert, key), ""
    identity, made = ensure_identity()
    return identity, f"made this install's signing certificate in {default_folder()}" if made else ""


def make_identity() -> Identity:
    """A root, an intermediate and a signer (ES256): what C2PA asks of a signer
    certificate (digitalSignature, an extended key usage it accepts, a chain)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(role: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{TOOL} {role}"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{TOOL} (self-made, one per install)")])

    def certificate(subject, issuer, key, issuer_key, authority: bool, path_length=None):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
                   .add_extension(x509.BasicConstraints(ca=authority, path_length=path_length), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if authority:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)  # cert + CRL signing
        else:
            usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)  # digitalSignature
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                            critical=False)
        return builder.add_extension(usage, critical=True).sign(issuer_key, hashes.SHA256())

    root_key, middle_key, signer_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = certificate(name("root"), name("root"), root_key, root_key, True, 1)
    middle = certificate(name("intermediate"), name("root"), middle_key, root_key, True, 0)
    signer = certificate(name("signer"), name("intermediate"), signer_key, middle_key, False)
    pem = serialization.Encoding.PEM
    key = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Identity(signer.public_bytes(pem) + middle.public_bytes(pem), key, root.public_bytes(pem))


def manifest(title: str, parent: str | None, photo: str | None, session_id: bytes | None) -> dict:
    """The manifest's definition: who made it, the actions, the mark's payload."""
    agent = {"name": TOOL, "version": __version__}
    edited = {"action": "c2pa.edited", "digitalSourceType": SWAPPED, "softwareAgent": agent,
              "description": "The face was replaced with the face of another person's photo (face swap)."}
    if photo:
        edited["parameters"] = {"ingredientIds": ["photo"]}
    first = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["target"]}} if parent else \
        {"action": "c2pa.created", "digitalSourceType": SWAPPED, "softwareAgent": agent}
    assertions = [{"label": "c2pa.actions", "data": {"actions": [first, edited]}}]
    if session_id is not None:
        payload = bytes([mark_layout.VERSION]) + session_id
        assertions.append({"label": "c2pa.soft-binding", "data": {
            "alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": base64.b64encode(payload).decode()}]}})
    return {"claim_generator_info": [agent], "title": title, "assertions": assertions}


def ingredient(path: str, generic_title: str, names: bool, relationship: str, label: str) -> dict:
    """An ingredient's definition: its file name as title only when asked; its SHA-256."""
    return {"title": Path(path).name if names else generic_title, "relationship": relationship, "label": label,
            "description": f"SHA-256 {sha256_file(path)}"}


def sign_file(path: str | os.PathLike, identity: Identity, *, parent: str | None = None, photo: str | None = None,
              session_id: bytes | None = None, names: bool = False) -> None:
    """Adds a manifest to the file in place; if signing fails the file stays as it was.

    `names`: the ingredients are titled with their file names. By default they are not: a
    photo's file name is often the name of the person whose face is worn, and the
    credentials go out with every copy. Each ingredient then carries its SHA-256, which
    ties it to its file for whoever holds that file, and tells nobody else its name."""
    c2pa = _c2pa()
    path = Path(path)
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise FaceSwapError(f"Content credentials are written into .png, .jpg and .mp4 files, not '{path.suffix}'.")
    parent = parent if parent and Path(parent).suffix.lower() in MIME and os.path.isfile(parent) else None
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    handle, temporary = tempfile.mkstemp(suffix=path.suffix, dir=path.parent, prefix=f".{path.stem}-signing-")
    os.close(handle)
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", identity.chain_pem, identity.key_pem, None))
        builder = c2pa.Builder(manifest(path.name, parent, photo, session_id), context=context)
        if photo and Path(photo).suffix.lower() in MIME:
            with open(photo, "rb") as source:
                builder.add_ingredient(ingredient(photo, "source photo", names, "inputTo", "photo"),
                                       MIME[Path(photo).suffix.lower()], source)
        if parent:
            generic = "input video" if MIME[Path(parent).suffix.lower()].startswith("video/") else "input picture"
            with open(parent, "rb") as source:
                builder.add_ingredient(ingredient(parent, generic, names, "parentOf", "target"),
                                       MIME[Path(parent).suffix.lower()], source)
        with open(path, "rb") as source, open(temporary, "w+b") as target:
            builder.sign(signer, mime, source, target)
        os.replace(temporary, path)
    except c2pa.C2paError as error:
        raise FaceSwapError(f"Content credentials could not be added to '{path.name}' (the file is kept as it "
                            f"was): {error}. With your own certificate, check it is ES256 with its chain.") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@dataclass
class CredentialFinding:
    state: str = "none"          # none, valid (intact, signer not trusted), trusted, invalid
    signer: str = ""
    generator: str = ""
    actions: list = field(default_factory=list)
    swapped: bool = False        # an action says a trained algorithm composed the picture
    session: str = ""            # the mark's payload from the soft binding
    failures: list = field(default_factory=list)

    def words(self) -> str:
        if self.state == "none":
            return "no content credentials"
        if self.state == "invalid":
            return ("content credentials INVALID (the file changed after signing, or the signature is broken: "
                    f"{', '.join(self.failures) or 'unknown'})")
        trust = "trusted signer" if self.state == "trusted" else "signer not on your trust list"
        made = "face swap" if self.swapped else "no face swap named"
        return (f"content credentials valid ({trust}: {self.signer or 'unnamed'}; "
                f"{', '.join(self.actions)}: {made})")


def read_credentials(path: str | os.PathLike, anchors_pem: str = "") -> CredentialFinding:
    c2pa = _c2pa()
    settings = {"verify": {"verify_trust": True}}
    if anchors_pem:
        settings["trust"] = {"trust_anchors": anchors_pem}
    try:
        reader = c2pa.Reader(str(path), context=c2pa.Context.from_dict(settings))
    except c2pa.C2paError as error:
        # a manifest that is there but broken is invalid; a file with none, or one c2pa
        # cannot parse at all (damaged, not the format its name says), has none to judge
        if isinstance(error, (c2pa.C2paError.Signature, c2pa.C2paError.Verify, c2pa.C2paError.Manifest)):
            return CredentialFinding("invalid", failures=[str(error)])
        return CredentialFinding()
    report = json.loads(reader.json())
    state = (reader.get_validation_state() or "").lower()
    found = CredentialFinding("trusted" if state == "trusted" else "valid" if state == "valid" else "invalid")
    active = report.get("manifests", {}).get(report.get("active_manifest", ""), {})
    found.signer = (active.get("signature_info") or {}).get("common_name", "")
    found.generator = ", ".join(info.get("name", "") for info in active.get("claim_generator_info", []))
    for assertion in active.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                found.actions.append(action.get("action", "").replace("c2pa.", ""))
                found.swapped |= action.get("digitalSourceType", "").endswith("compositeWithTrainedAlgorithmicMedia")
        if assertion.get("label") == "c2pa.soft-binding" and assertion["data"].get("alg") == SOFT_BINDING_ALG:
            payload = base64.b64decode(assertion["data"]["blocks"][0]["value"])
            found.session = payload[1:].hex()
    if found.state == "invalid":
        results = report.get("validation_results", {}).get("activeManifest", {})
        found.failures = [item.get("code", "") for item in results.get("failure", [])
                          if item.get("code") != "signingCredential.untrusted"]
    return found
