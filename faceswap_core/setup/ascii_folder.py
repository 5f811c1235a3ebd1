"""mediapipe's legacy graphs (the landmark engine's face mesh, hands, selfie segmentation)
fail to load from a folder whose path has non-ASCII characters on Windows
(google-ai-edge/mediapipe #2677, #3774): a user folder like C:\\Users\\José breaks the
default engine. The installer puts the worker's environment in a plain-ASCII folder
there instead, and the doctor names the problem. Standard library only."""

from __future__ import annotations

import hashlib
import ntpath
import os
import sys


def breaks_mediapipe(path: str | os.PathLike, platform_name: str = sys.platform) -> bool:
    return platform_name.startswith("win") and not str(path).isascii()


def ascii_venv(project_root: str | os.PathLike, environ: dict | None = None) -> str | None:
    """A plain-ASCII folder for the environment of the project at `project_root` (one per
    project: the folder's name carries a hash of its path), or None if there is none."""
    environ = os.environ if environ is None else environ
    base = environ.get("ProgramData") or environ.get("PROGRAMDATA") or "C:\\ProgramData"
    tag = hashlib.sha256(str(project_root).encode("utf-8")).hexdigest()[:10]
    folder = ntpath.join(base, "obs-faceswap", f"venv-{tag}")
    return folder if folder.isascii() else None


def problem_words(path: str | os.PathLike) -> str:
    return (f"The folder {path} has characters other than plain ASCII, and on Windows mediapipe (the landmark "
            "engine's face mesh) cannot load its models from such a folder")
