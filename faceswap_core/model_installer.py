"""Installing model files: download with a progress bar and resume, or copy from a folder
(offline machines), check size and SHA-256, and write atomically (a .part file renamed
into place only once verified), so a model file in the models folder is always whole.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from .errors import FaceSwapError
from .model_catalog import CATALOG, Archive, ModelFile, default_model_dir, sha256_file

CHUNK = 1 << 20
USER_AGENT = "obs-faceswap-model-installer"


@dataclass(frozen=True)
class ModelStatus:
    model: ModelFile
    path: Path
    state: str  # "ok", "missing", "wrong size", "corrupt", "size ok" (hash not checked)

    @property
    def good(self) -> bool:
        return self.state in ("ok", "size ok")


def check(model: ModelFile, model_dir: str | os.PathLike | None = None, full: bool = True) -> ModelStatus:
    """Is the model installed and whole? full=True also checks SHA-256 (seconds for big files)."""
    path = Path(model_dir or default_model_dir()) / model.filename
    if not path.is_file():
        return ModelStatus(model, path, "missing")
    if path.stat().st_size != model.bytes:
        return ModelStatus(model, path, "wrong size")
    if not full:
        return ModelStatus(model, path, "size ok")
    return ModelStatus(model, path, "ok" if sha256_file(path) == model.sha256 else "corrupt")


class Progress:
    """A one-line text progress bar: name, bar, percent, MB done/total, speed."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, start: int = 0, width: int = 28):
        self.label, self.total, self.width = label, max(int(total), 1), width
        self.stream = stream if stream is not None else sys.stderr
        self.done = start
        self._start_bytes = start
        self._started = time.monotonic()
        self._shown = 0.0

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._shown >= 0.2 or self.done >= self.total:
            self._shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * self.width)
        speed = (self.done - self._start_bytes) / max(now - self._started, 1e-6) / 1e6
        self.stream.write(f"\r  {self.label}  [{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:5.1f}%"
                          f"  {self.done / 1e6:7.1f}/{self.total / 1e6:.1f} MB  {speed:6.1f} MB/s")
        self.stream.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()


def download(url: str, dest: Path, size: int, sha256: str, *, stream: TextIO | None = None,
             timeout: float = 30.0, label: str | None = None) -> Path:
    """Download url to dest, resuming a previous dest.part; verified and renamed at the end."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    label = label or dest.name
    offset = part.stat().st_size if part.exists() else 0
    if offset > size:
        part.unlink()
        offset = 0
    if offset < size:
        offset = _fetch(url, part, offset, size, label, stream, timeout)
    got = part.stat().st_size
    if got != size:
        if got > size:
            part.unlink()
            raise FaceSwapError(f"The server sent {got:,} bytes for {label}, expected {size:,}; the file changed upstream, so it was not installed.")
        raise FaceSwapError(
            f"The download of {label} stopped at {got:,} of {size:,} bytes; run the same command again to resume it."
        )
    if sha256_file(part) != sha256:
        part.unlink()
        raise FaceSwapError(
            f"The downloaded {label} has the wrong SHA-256 (damaged in transit or changed upstream) and was deleted; "
            "run the same command again, and report it if it happens twice."
        )
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, offset: int, size: int, label: str, stream: TextIO | None, timeout: float) -> int:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # our partial file is not a prefix the server recognises
            part.unlink()
            return _fetch(url, part, 0, size, label, stream, timeout)
        raise FaceSwapError(f"Downloading {label} failed: the server answered HTTP {error.code} for {url}; "
                            "check your connection or download it by hand and use --from DIR.") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FaceSwapError(f"Could not reach the server for {label} ({reason}); check your connection, "
                            "or download the file elsewhere and install it with --from DIR.") from None
    with response:
        resumed = offset > 0 and response.status == 206 and _range_start(response) == offset
        if not resumed:
            offset = 0
        progress = Progress(label, size, stream, start=offset)
        try:
            with open(part, "ab" if resumed else "wb") as handle:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    handle.write(block)
                    progress.update(len(block))
        except (OSError, http.client.HTTPException, socket.timeout):
            pass  # a dropped connection: what arrived stays in .part for the next run to resume
        finally:
            progress.close()
    return part.stat().st_size


def _range_start(response) -> int | None:
    value = response.headers.get("Content-Range", "")  # "bytes 100-199/200"
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _copy_verified(source: Path, dest: Path, size: int, sha256: str, stream: TextIO | None) -> Path:
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.stat().st_size != size:
        raise FaceSwapError(f"{source} is {source.stat().st_size:,} bytes, expected {size:,}; it is not the right file or is incomplete.")
    progress = Progress(dest.name, size, stream)
    with open(source, "rb") as src, open(part, "wb") as out:
        for block in iter(lambda: src.read(CHUNK), b""):
            out.write(block)
            progress.update(len(block))
    progress.close()
    if sha256_file(part) != sha256:
        part.unlink()
        raise FaceSwapError(f"{source} has the wrong SHA-256; it is not the file this program expects, so it was not installed.")
    os.replace(part, dest)
    return dest


def _extract_member(archive_path: Path, model: ModelFile, dest: Path) -> Path:
    part = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(archive_path) as archive:
        members = [n for n in archive.namelist() if Path(n).name == model.filename]
        if not members:
            raise FaceSwapError(f"{archive_path.name} does not contain {model.filename}; it is not the expected archive.")
        with archive.open(members[0]) as src, open(part, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
    if part.stat().st_size != model.bytes or sha256_file(part) != model.sha256:
        part.unlink()
        raise FaceSwapError(f"{model.filename} inside {archive_path.name} is not the expected file; it was not installed.")
    os.replace(part, dest)
    return dest


def _find_in(folder: Path, filename: str) -> Path | None:
    for candidate in (folder / filename, *folder.glob(f"*/{filename}")):
        if candidate.is_file():
            return candidate
    return None


def confirm_licences(models: list[ModelFile], assume_yes: bool, ask: Callable[[str], str] | None,
                     stream: TextIO) -> None:
    """Non-commercial models need the user's explicit yes (or --yes)."""
    restricted = [m for m in models if m.non_commercial]
    if not restricted or assume_yes:
        return
    names = ", ".join(m.filename for m in restricted)
    for licence in dict.fromkeys(m.license for m in restricted):
        files = ", ".join(m.filename for m in restricted if m.license == licence)
        stream.write(f"{files}: licensed for {licence}.\n")
    if ask is None:
        raise FaceSwapError(f"{names} may only be used for non-commercial research; "
                            "rerun with --yes to accept that licence and install.")
    answer = ask("Install them under that licence? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise FaceSwapError("Nothing was installed: the licence was not accepted.")


def install(models: list[ModelFile], model_dir: str | os.PathLike | None = None, *,
            source_dir: str | os.PathLike | None = None, force: bool = False, assume_yes: bool = False,
            ask: Callable[[str], str] | None = None, stream: TextIO | None = None,
            timeout: float = 30.0) -> list[Path]:
    """Install each model (skipping verified ones unless force); returns their paths."""
    stream = stream if stream is not None else sys.stderr
    target = Path(model_dir or default_model_dir())
    todo = []
    for model in models:
        status = check(model, target, full=True)
        if status.state == "ok" and not force:
            stream.write(f"  {model.filename}: already installed and verified\n")
        else:
            todo.append(model)
    if not todo:
        return [target / m.filename for m in models]
    if source_dir is not None and not Path(source_dir).is_dir():
        raise FaceSwapError(f"The folder {source_dir} given with --from does not exist.")
    confirm_licences(todo, assume_yes, ask, stream)
    target.mkdir(parents=True, exist_ok=True)
    archives: dict[str, Path] = {}
    try:
        for model in todo:
            dest = target / model.filename
            if source_dir is not None:
                _install_from_folder(model, Path(source_dir), dest, target, archives, stream)
            elif model.url:
                download(model.url, dest, model.bytes, model.sha256, stream=stream, timeout=timeout, label=model.filename)
            else:
                archive = _archive(model.archive, target, archives, stream, timeout)
                _extract_member(archive, model, dest)
            stream.write(f"  {model.filename}: installed and verified\n")
    finally:
        for path in archives.values():  # downloaded archives are removed once their members are out
            if path.parent == target / ".downloads":
                path.unlink(missing_ok=True)
    return [target / m.filename for m in models]


def _archive(archive: Archive, target: Path, cache: dict[str, Path], stream, timeout) -> Path:
    if archive.name not in cache:
        dest = target / ".downloads" / archive.name
        cache[archive.name] = download(archive.url, dest, archive.bytes, archive.sha256, stream=stream, timeout=timeout)
    return cache[archive.name]


def _install_from_folder(model: ModelFile, folder: Path, dest: Path, target: Path, cache: dict, stream) -> None:
    found = _find_in(folder, model.filename)
    if found is not None:
        _copy_verified(found, dest, model.bytes, model.sha256, stream)
        return
    if model.archive is not None:
        archive = cache.get(model.archive.name) or _find_in(folder, model.archive.name)
        if archive is not None:
            if model.archive.name not in cache:
                if archive.stat().st_size != model.archive.bytes or sha256_file(archive) != model.archive.sha256:
                    raise FaceSwapError(f"{archive} is not the expected {model.archive.name} (size or SHA-256 differ).")
                cache[model.archive.name] = archive
            _extract_member(archive, model, dest)
            return
    wanted = model.filename + (f" or {model.archive.name}" if model.archive else "")
    raise FaceSwapError(f"{folder} has no {wanted}; put the file there (download it from "
                        f"{model.url or model.archive.url}) and run the command again.")


def verify(models: list[ModelFile] | None = None, model_dir: str | os.PathLike | None = None) -> list[ModelStatus]:
    return [check(m, model_dir, full=True) for m in (models or list(CATALOG))]
