"""Content credentials (C2PA) on what `faceswap swap` writes, read back by `faceswap verify`:
real c2pa-python signing and reading, offline, with the test install's own certificate."""

from __future__ import annotations

import json
import os
import stat

import pytest

from faceswap_core.provenance import credentials
from testkit.cli import run
from testkit.judge import media


def swap(out, *flags, source="if_t1.jpg"):
    result = run("swap", "--source", media("fr_obama.jpg"), "--input", media(source), "--output", out,
                 "--max-frames", "20", *flags)
    assert result.returncode == 0, result.stderr
    return result


def verify(*args) -> tuple[int, list[dict]]:
    result = run("verify", "--json", *map(str, args))
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def flip_byte(path, into):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    into.write_bytes(bytes(data))
    return into


@pytest.mark.parametrize("name, source", [("out.png", "if_t1.jpg"), ("out.jpg", "if_t1.jpg"),
                                          ("out.mp4", "lp_d3.mp4")])
def test_written_files_carry_valid_credentials(tmp_path, signing_credentials, name, source):
    out = tmp_path / name
    result = swap(out, source=source)
    assert "Signed its content credentials" in result.stdout
    status, (report,) = verify(out)
    found = report["credentials"]
    assert status == 0 and found["state"] == "valid", report
    assert found["actions"] == ["opened", "edited"] and found["swapped"]
    assert found["generator"] == "obs-faceswap" and found["signer"] == "obs-faceswap signer"
    assert found["session"] == report["mark"]["session"] != ""     # the soft binding is the mark's payload
    # trusted once the test install's root is given as an anchor
    status, (report,) = verify("--trust", signing_credentials / credentials.ROOT_FILE, out)
    assert status == 0 and report["credentials"]["state"] == "trusted"
    # one flipped byte: invalid, exit 2, and the line says so
    broken = flip_byte(out, tmp_path / f"broken-{name}")
    result = run("verify", broken)
    assert result.returncode == 2 and "INVALID" in result.stdout, result.stdout


def test_the_install_certificate_is_made_once_and_its_key_is_private(tmp_path, signing_credentials):
    swap(tmp_path / "a.jpg")
    key = signing_credentials / credentials.KEY_FILE
    before = key.read_bytes()
    result = run("credentials")
    assert result.returncode == 0 and "Found this install's signing certificate" in result.stdout
    assert key.read_bytes() == before
    if os.name == "posix":
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    chain = (signing_credentials / credentials.SIGNER_FILE).read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2 and "PRIVATE" not in chain


def test_own_certificate_and_failures_keep_the_file(tmp_path):
    own = credentials.make_identity()
    (tmp_path / "chain.pem").write_bytes(own.chain_pem)
    (tmp_path / "key.pem").write_bytes(own.key_pem)
    (tmp_path / "root.pem").write_bytes(own.root_pem)
    out = tmp_path / "own.jpg"
    swap(out, "--sign-cert", tmp_path / "chain.pem", "--sign-key", tmp_path / "key.pem")
    status, (report,) = verify("--trust", tmp_path / "root.pem", out)
    assert report["credentials"]["state"] == "trusted"
    # a key that does not belong to the certificate: the swap's file is kept, unsigned, and said
    (tmp_path / "other.pem").write_bytes(credentials.make_identity().key_pem)
    out = tmp_path / "mismatch.jpg"
    result = swap(out, "--sign-cert", tmp_path / "chain.pem", "--sign-key", tmp_path / "other.pem")
    assert "could not be added" in result.stderr and "kept as it was" in result.stderr
    status, (report,) = verify(out)
    assert report["credentials"]["state"] == "none" and report["mark"]["found"] and status == 0
    assert not [name for name in os.listdir(tmp_path) if "signing" in name], "a temporary file was left"
    # half of one's own pair: one sentence
    result = swap(tmp_path / "half.jpg", "--sign-cert", tmp_path / "chain.pem")
    assert "Give both --sign-cert and --sign-key" in result.stderr
    result = run("verify", "--trust", tmp_path / "key.pem", out)
    assert result.returncode == 2 and "no certificate in it" in result.stderr


def test_no_credentials_and_other_containers(tmp_path):
    out = tmp_path / "plain.png"
    result = swap(out, "--no-credentials", "--no-mark")
    assert "Signed" not in result.stdout
    status, (report,) = verify(out)
    assert status == 1 and report["credentials"]["state"] == "none" and not report["mark"]["found"]
    result = swap(tmp_path / "clip.mkv", source="lp_d3.mp4")
    assert "no content credentials in 'clip.mkv'" in result.stderr


def test_doctor_says_whether_the_certificate_is_there(tmp_path):
    from faceswap_core.doctor import check_credentials

    missing = check_credentials(tmp_path / "none")
    assert missing.ok is None and "faceswap credentials" in missing.fix
    credentials.ensure_identity(tmp_path / "made")
    assert check_credentials(tmp_path / "made").ok is True


def camera_signed(path, into):
    """A photo signed as a camera signs it: created, digital capture, no face swap named."""
    import c2pa

    identity = credentials.make_identity()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", identity.chain_pem, identity.key_pem, None))
    definition = {"claim_generator_info": [{"name": "a camera"}], "title": into.name, "assertions": [
        {"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created",
             "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}}]}
    builder = c2pa.Builder(definition, context=c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}}))
    with open(path, "rb") as source, open(into, "w+b") as target:
        builder.sign(signer, "image/jpeg", source, target)
    return into


def test_a_camera_signed_photo_without_a_swap_is_not_called_one(tmp_path):
    """Exit 0 meant "some provenance found": a camera's own credentials, no swap, exited 0,
    and a script asking "is this a face swap?" read yes. Now 1, with the credentials named."""
    photo = camera_signed(media("fr_obama.jpg"), tmp_path / "camera.jpg")
    status, (report,) = verify(photo)
    assert status == 1 and report["status"] == 1 and report["face_swap"] is False, report
    assert report["credentials"]["state"] == "valid" and not report["credentials"]["swapped"]
    result = run("verify", photo)
    assert result.returncode == 1
    line = result.stdout.strip()
    assert "nothing in it says it is a face swap" in line and "content credentials valid" in line, line
    assert "no face swap named" in line and "proves nothing" in line, line


def test_credentials_name_no_files_unless_asked(tmp_path, signing_credentials):
    """A source photo's file name is often the name of the person whose face is worn: by
    default the ingredients say 'source photo' and 'input picture', with their SHA-256."""
    import c2pa

    from faceswap_core.model_catalog import sha256_file

    def ingredients(path):
        report = json.loads(c2pa.Reader(str(path)).json())
        return {item["relationship"]: item for item in report["manifests"][report["active_manifest"]]["ingredients"]}

    out = tmp_path / "anonymous.jpg"
    swap(out)
    found = ingredients(out)
    assert found["inputTo"]["title"] == "source photo" and found["parentOf"]["title"] == "input picture"
    assert found["inputTo"]["description"] == f"SHA-256 {sha256_file(media('fr_obama.jpg'))}"
    assert found["parentOf"]["description"] == f"SHA-256 {sha256_file(media('if_t1.jpg'))}"
    assert b"fr_obama" not in out.read_bytes() and b"if_t1" not in out.read_bytes()
    named = tmp_path / "named.jpg"
    swap(named, "--credential-names")
    found = ingredients(named)
    assert found["inputTo"]["title"] == "fr_obama.jpg" and found["parentOf"]["title"] == "if_t1.jpg"
    status, _ = verify(out)
    assert status == 0
