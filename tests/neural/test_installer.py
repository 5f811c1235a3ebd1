"""The model installer against a local HTTP server on 127.0.0.1 that serves small files:
good hash, bad hash, truncated download, resume with Range, archives, --from DIR, the
licence question, and the `faceswap models` command."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from faceswap_core import model_catalog as catalog
from faceswap_core import model_installer as installer
from faceswap_core.errors import FaceSwapError


class _Server:
    """Serves self.files[path] = bytes; honours Range; `cut` sends only that many bytes
    of a full response, then closes the connection (a dropped download)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: int | None = None
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                ranged = self.headers.get("Range")
                if ranged and ranged.startswith("bytes="):
                    start = int(ranged[6:].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut is not None and not ranged:
                    self.wfile.write(body[: server.cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.close()


PAYLOAD = os.urandom(300_000)


def _model(url: str, data: bytes = PAYLOAD, name: str = "tiny", licence: str = "MIT", **kwargs) -> catalog.ModelFile:
    return catalog.ModelFile(name=name, filename=f"{name}.onnx", bytes=len(data),
                             sha256=hashlib.sha256(data).hexdigest(), license=licence, engines=("neural",),
                             role="detector", description="test file", url=url, **kwargs)


def test_download_with_good_hash_installs_atomically(server, tmp_path):
    server.files["/tiny.onnx"] = PAYLOAD
    progress = io.StringIO()
    paths = installer.install([_model(server.url("/tiny.onnx"))], tmp_path, stream=progress)
    assert paths[0].read_bytes() == PAYLOAD
    assert not list(tmp_path.glob("*.part"))
    assert "100.0%" in progress.getvalue() and "installed and verified" in progress.getvalue()
    # a second install finds it verified and downloads nothing
    before = len(server.requests)
    installer.install([_model(server.url("/tiny.onnx"))], tmp_path, stream=io.StringIO())
    assert len(server.requests) == before


def test_bad_hash_is_refused_and_nothing_is_left(server, tmp_path):
    server.files["/tiny.onnx"] = PAYLOAD[:-1] + bytes([PAYLOAD[-1] ^ 1])
    with pytest.raises(FaceSwapError, match="wrong SHA-256"):
        installer.install([_model(server.url("/tiny.onnx"))], tmp_path, stream=io.StringIO())
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_keeps_the_part_and_resumes(server, tmp_path):
    server.files["/tiny.onnx"] = PAYLOAD
    server.cut = 100_000
    model = _model(server.url("/tiny.onnx"))
    with pytest.raises(FaceSwapError, match="stopped at 100,000 of 300,000 bytes.*again to resume"):
        installer.install([model], tmp_path, stream=io.StringIO())
    assert not (tmp_path / "tiny.onnx").exists()  # never a partial model under the real name
    assert (tmp_path / "tiny.onnx.part").stat().st_size == 100_000
    server.cut = None
    installer.install([model], tmp_path, stream=io.StringIO())
    assert (tmp_path / "tiny.onnx").read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/tiny.onnx", "bytes=100000-")
    assert not (tmp_path / "tiny.onnx.part").exists()


def test_a_part_the_server_cannot_resume_restarts(server, tmp_path):
    server.files["/tiny.onnx"] = PAYLOAD
    (tmp_path / "tiny.onnx.part").write_bytes(b"\0" * (len(PAYLOAD) + 10))  # longer than the file: stale
    installer.install([_model(server.url("/tiny.onnx"))], tmp_path, stream=io.StringIO())
    assert (tmp_path / "tiny.onnx").read_bytes() == PAYLOAD


def test_http_errors_and_unreachable_servers(server, tmp_path):
    with pytest.raises(FaceSwapError, match="HTTP 404.*--from DIR"):
        installer.install([_model(server.url("/absent.onnx"))], tmp_path, stream=io.StringIO())
    with pytest.raises(FaceSwapError, match="Could not reach"):
        installer.install([_model("http://127.0.0.1:9/none.onnx")], tmp_path, stream=io.StringIO(), timeout=2)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_archive_members_are_extracted_and_verified(server, tmp_path):
    det, rec = os.urandom(5000), os.urandom(7000)
    blob = _zip({"buffalo/det.onnx": det, "buffalo/rec.onnx": rec, "buffalo/other.onnx": b"x"})
    archive = catalog.Archive("pack.zip", server.url("/pack.zip"), len(blob), hashlib.sha256(blob).hexdigest())
    server.files["/pack.zip"] = blob
    models = [_model(None, det, "det", archive=archive), _model(None, rec, "rec", archive=archive)]
    installer.install(models, tmp_path, stream=io.StringIO())
    assert (tmp_path / "det.onnx").read_bytes() == det and (tmp_path / "rec.onnx").read_bytes() == rec
    assert [r for r in server.requests if r[0] == "/pack.zip"] == [("/pack.zip", None)]  # one download
    assert not (tmp_path / ".downloads" / "pack.zip").exists()  # removed once unpacked


def test_install_from_a_folder(tmp_path):
    offline = tmp_path / "usb"
    offline.mkdir()
    (offline / "tiny.onnx").write_bytes(PAYLOAD)
    target = tmp_path / "models"
    installer.install([_model("http://unused.invalid/")], target, source_dir=offline, stream=io.StringIO())
    assert (target / "tiny.onnx").read_bytes() == PAYLOAD
    (offline / "bad.onnx").write_bytes(PAYLOAD[::-1])
    with pytest.raises(FaceSwapError, match="wrong SHA-256"):
        installer.install([_model("http://unused.invalid/", name="bad")], target, source_dir=offline,
                          stream=io.StringIO())
    assert not (target / "bad.onnx").exists()
    with pytest.raises(FaceSwapError, match="has no missing.onnx"):
        installer.install([_model("http://unused.invalid/", name="missing")], target, source_dir=offline,
                          stream=io.StringIO())
    with pytest.raises(FaceSwapError, match="does not exist"):
        installer.install([_model("http://unused.invalid/", name="other")], target,
                          source_dir=tmp_path / "nowhere", stream=io.StringIO())


def test_non_commercial_models_need_a_yes(server, tmp_path):
    server.files["/tiny.onnx"] = PAYLOAD
    model = _model(server.url("/tiny.onnx"), licence=catalog.NON_COMMERCIAL)
    with pytest.raises(FaceSwapError, match="--yes"):
        installer.install([model], tmp_path, stream=io.StringIO(), ask=None)
    with pytest.raises(FaceSwapError, match="not accepted"):
        installer.install([model], tmp_path, stream=io.StringIO(), ask=lambda prompt: "n")
    assert server.requests == []  # asked before downloading anything
    asked = []
    installer.install([model], tmp_path, stream=io.StringIO(), ask=lambda prompt: asked.append(prompt) or "y")
    assert asked and (tmp_path / "tiny.onnx").exists()


def test_verify_reports_missing_wrong_size_and_corrupt(tmp_path):
    good, corrupt, short = (_model("u", name=n) for n in ("good", "corrupt", "short"))
    (tmp_path / "good.onnx").write_bytes(PAYLOAD)
    (tmp_path / "corrupt.onnx").write_bytes(PAYLOAD[::-1])
    (tmp_path / "short.onnx").write_bytes(PAYLOAD[:10])
    states = [s.state for s in installer.verify([good, corrupt, short, _model("u", name="gone")], tmp_path)]
    assert states == ["ok", "corrupt", "wrong size", "missing"]


def test_catalog_is_complete_and_consistent():
    names = [m.name for m in catalog.CATALOG]
    assert len(names) == len(set(names))
    for model in catalog.CATALOG:
        assert len(model.sha256) == 64 and int(model.sha256, 16) >= 0
        assert model.bytes > 1_000_000 and (model.url or model.archive)
        assert model.url is None or model.url.startswith("https://")
        # all of insightface's models are non-commercial, and GPEN's; GFPGAN is Apache-2.0
        assert model.non_commercial == (model.name != "gfpgan_1.4"), model.name
    assert [m.name for m in catalog.resolve_names([])] == ["det_10g", "w600k_r50", "inswapper_128"]
    assert catalog.find("inswapper_128_fp16.onnx").variant == "fp16"
    with pytest.raises(FaceSwapError, match="Unknown model 'gfpgan'"):
        catalog.find("gfpgan")


def _cli(argv, capsys):
    import argparse

    from faceswap_core.commands import models as command

    parser = argparse.ArgumentParser(prog="faceswap")
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except FaceSwapError as error:
        code, message = 2, str(error)
    else:
        message = ""
    out = capsys.readouterr()
    return code, out.out, out.err + message


def test_models_command_list_verify_install(tmp_path, capsys):
    code, out, _ = _cli(["models", "list", "--dir", str(tmp_path)], capsys)
    assert code == 0 and "inswapper_128" in out and "missing" in out and "non-commercial" in out
    assert "ONNX Runtime: onnxruntime" in out and "--provider auto uses" in out
    (tmp_path / "inswapper_128.onnx").write_bytes(b"x" * 10)
    code, out, err = _cli(["models", "verify", "--dir", str(tmp_path)], capsys)
    assert code == 1 and "wrong size" in out and "missing" in out
    assert f"faceswap models install --force det_10g w600k_r50 inswapper_128 --dir {tmp_path}" in err
    code, _, err = _cli(["models", "install", "--dir", str(tmp_path), "--from", str(tmp_path / "none"), "--yes"], capsys)
    assert code == 2 and "does not exist" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _cli(["models", "install", "det_10g", "--dir", str(tmp_path), "--from", str(empty), "--yes"], capsys)
    assert code == 2 and "det_10g.onnx or buffalo_l.zip" in err
    code, _, err = _cli(["models", "install", "det_10g", "--dir", str(tmp_path), "--from", str(empty)], capsys)
    assert code == 2 and "--yes" in err  # no terminal to ask on: the licence needs --yes


def test_models_command_is_in_the_cli():
    from faceswap_core import cli
    assert "models" in cli.COMMANDS


def test_install_archive_members_from_a_folder(tmp_path):
    det = os.urandom(4000)
    blob = _zip({"det.onnx": det})
    archive = catalog.Archive("pack.zip", "http://unused.invalid/pack.zip", len(blob), hashlib.sha256(blob).hexdigest())
    offline = tmp_path / "usb"
    offline.mkdir()
    (offline / "pack.zip").write_bytes(blob)
    installer.install([_model(None, det, "det", archive=archive)], tmp_path / "models", source_dir=offline,
                      stream=io.StringIO())
    assert (tmp_path / "models" / "det.onnx").read_bytes() == det
    assert (offline / "pack.zip").exists()  # the user's own copy is left alone
    (offline / "pack.zip").write_bytes(blob[:100] + bytes([blob[100] ^ 0xFF]) + blob[101:])
    with pytest.raises(FaceSwapError, match="not the expected pack.zip"):
        installer.install([_model(None, det, "det", archive=archive)], tmp_path / "other", source_dir=offline,
                          stream=io.StringIO())


def test_loading_checks_sha256_not_only_the_size(tmp_path):
    """A model file of the right size but other content (damaged, or swapped for another
    file after download) is refused before ONNX Runtime ever reads it."""
    good = os.urandom(5000)
    model = catalog.ModelFile("tiny", "tiny.onnx", len(good), hashlib.sha256(good).hexdigest(),
                              catalog.NON_COMMERCIAL, ("neural",), "detector", "test model")
    (tmp_path / "tiny.onnx").write_bytes(good)
    assert catalog.require(model, tmp_path) == tmp_path / "tiny.onnx"
    tampered = bytearray(good)
    tampered[100] ^= 0xFF
    (tmp_path / "tiny.onnx").write_bytes(bytes(tampered))
    with pytest.raises(FaceSwapError, match="SHA-256 differs.*faceswap models install --force tiny"):
        catalog.require(model, tmp_path)
