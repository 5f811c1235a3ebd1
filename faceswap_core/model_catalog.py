"""Every model file the project can use, described as data.

One entry per file: where it comes from (a URL, or a member of a downloaded archive), its
exact size and SHA-256, its licence, and which engine needs it for which role. The
installer, `faceswap models`, and the engines read this table; nothing else hard-codes a
file name or a hash.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .command_text import command_text
from .errors import FaceSwapError

NON_COMMERCIAL = "non-commercial research use only (InsightFace model licence)"
INSIGHTFACE_TERMS = "https://github.com/deepinsight/insightface#license"
GPEN_LICENCE = "non-commercial research use only (GPEN, Alibaba DAMO Academy: academic and non-commercial use)"
GFPGAN_LICENCE = "Apache-2.0 (GFPGAN, Tencent ARC)"
# FaceFusion's ONNX exports of the face restorers (the same files its users download).
FACEFUSION_MODELS = "https://github.com/facefusion/facefusion-assets/releases/download/models-3.0.0"


@dataclass(frozen=True)
class Archive:
    """A download that holds several model files (e.g. insightface's buffalo_l.zip)."""

    name: str
    url: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ModelFile:
    name: str                 # what users type: faceswap models install NAME
    filename: str             # the file in the models folder
    bytes: int
    sha256: str
    license: str
    engines: tuple[str, ...]  # engines that can use it
    role: str                 # detector, recognizer, swapper, ...
    description: str
    url: str | None = None          # a direct download ...
    archive: Archive | None = None  # ... or a member of this archive
    variant: str = ""               # e.g. fp16 for the half-precision swapper

    @property
    def non_commercial(self) -> bool:
        return "non-commercial" in self.license

    @property
    def download_bytes(self) -> int:
        return self.archive.bytes if self.archive else self.bytes


BUFFALO_L = Archive(
    name="buffalo_l.zip",
    url="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
    bytes=288_621_354,
    sha256="80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f",
)

CATALOG: tuple[ModelFile, ...] = (
    ModelFile(
        name="det_10g", filename="det_10g.onnx", bytes=16_923_827,
        sha256="5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91",
        license=NON_COMMERCIAL, engines=("neural",), role="detector",
        description="SCRFD-10G face detector with 5 keypoints (insightface buffalo_l)",
        archive=BUFFALO_L,
    ),
    ModelFile(
        name="w600k_r50", filename="w600k_r50.onnx", bytes=174_383_860,
        sha256="4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43",
        license=NON_COMMERCIAL, engines=("neural",), role="recognizer",
        description="ArcFace ResNet-50 identity embeddings (insightface buffalo_l)",
        archive=BUFFALO_L,
    ),
    ModelFile(
        name="inswapper_128", filename="inswapper_128.onnx", bytes=554_253_681,
        sha256="e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af",
        license=NON_COMMERCIAL, engines=("neural",), role="swapper",
        description="inswapper_128 one-photo face swap, fp32",
        url="https://huggingface.co/hacksider/deep-live-cam/resolve/main/inswapper_128.onnx",
    ),
    ModelFile(
        name="inswapper_128_fp16", filename="inswapper_128_fp16.onnx", bytes=277_680_638,
        sha256="6d51a9278a1f650cffefc18ba53f38bf2769bf4bbff89267822cf72945f8a38b",
        license=NON_COMMERCIAL, engines=("neural",), role="swapper", variant="fp16",
        description="inswapper_128 in half precision (half the download; NaN output on some GTX 16xx cards)",
        url="https://huggingface.co/hacksider/deep-live-cam/resolve/main/inswapper_128_fp16.onnx",
    ),
    # Face enhancers: sizes and SHA-256 as published by several independent projects that pin
    # these files (not downloadable from this development machine; checked on install).
    ModelFile(
        name="gfpgan_1.4", filename="gfpgan_1.4.onnx", bytes=340_299_087,
        sha256="accc4757b26bdb89b32b4d3500d4f79c9dff97c1dd7c7104bf9dcb95e3311385",
        license=GFPGAN_LICENCE, engines=("neural",), role="enhancer",
        description="GFPGAN 1.4 face restorer, 512 px, FFHQ alignment",
        url=f"{FACEFUSION_MODELS}/gfpgan_1.4.onnx",
    ),
    ModelFile(
        name="gpen_bfr_256", filename="gpen_bfr_256.onnx", bytes=75_792_988,
        sha256="bad8bf0426873828df2dbf4e3b3d9ababba9da7965b8b72426569486f7ae5c25",
        license=GPEN_LICENCE, engines=("neural",), role="enhancer",
        description="GPEN-BFR 256 face restorer (fast), ArcFace alignment",
        url=f"{FACEFUSION_MODELS}/gpen_bfr_256.onnx",
    ),
    ModelFile(
        name="gpen_bfr_512", filename="gpen_bfr_512.onnx", bytes=284_340_240,
        sha256="d5f066b9068a8b74217f9712e28e875a6144629b108a6f7355acbdb3a2832c54",
        license=GPEN_LICENCE, engines=("neural",), role="enhancer",
        description="GPEN-BFR 512 face restorer, FFHQ alignment",
        url=f"{FACEFUSION_MODELS}/gpen_bfr_512.onnx",
    ),
)

# What `faceswap models install` fetches when no name is given, per engine.
DEFAULT_SET = {"neural": ("det_10g", "w600k_r50", "inswapper_128")}


def find(name: str, catalog: tuple[ModelFile, ...] = CATALOG) -> ModelFile:
    key = name.strip().lower().removesuffix(".onnx")
    for model in catalog:
        if model.name == key:
            return model
    known = ", ".join(m.name for m in catalog)
    raise FaceSwapError(f"Unknown model '{name}'; choose one of: {known} (see faceswap models list).")


def resolve_names(names: list[str], catalog: tuple[ModelFile, ...] = CATALOG) -> list[ModelFile]:
    """Names or engine names ('neural') -> catalog entries, in order, without repeats."""
    chosen: list[ModelFile] = []
    for name in names or ["neural"]:
        if name in DEFAULT_SET:
            models = [find(n, catalog) for n in DEFAULT_SET[name]]
        else:
            models = [find(name, catalog)]
        chosen += [m for m in models if m not in chosen]
    return chosen


def user_data_dir() -> Path:
    """The platform's per-user data folder for obs-faceswap (models, signing credentials)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "obs-faceswap"


# What a user does about a model file that is missing or does not load: a catalogued file is
# installed again; a file the user named is the user's to replace (no catalogue command helps).
REINSTALL_ADVICE = "run faceswap models verify, then faceswap models install --force"
OWN_FILE_FLAGS = {"detector": "--detector", "recognizer": "--recognizer", "swapper": "--swapper",
                  "enhancer": "--enhancer-file", "occluder": "--occluder"}


def file_advice(role: str, own: bool) -> str:
    """What to do about the `role` model's file: the user's own (`own`) or a catalogued one."""
    if not own:
        return REINSTALL_ADVICE
    return (f"it is your own file, so choose a working {role} model file instead (the filter's {role} file "
            f"setting, or {OWN_FILE_FLAGS.get(role, 'its option')} FILE)")


def install_command(names, model_dir: str | os.PathLike | None = None, force: bool = False) -> str:
    """`faceswap models install ...` for these models, as the user types it."""
    return command_text("faceswap", "models", "install", *(["--force"] if force else []), *names,
                        *(["--dir", model_dir] if model_dir else []))


def default_model_dir() -> Path:
    """$FACESWAP_MODEL_DIR, else the per-user data folder's models/."""
    override = os.environ.get("FACESWAP_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    return user_data_dir() / "models"


def model_path(model: ModelFile, model_dir: str | os.PathLike | None = None) -> Path:
    return Path(model_dir or default_model_dir()) / model.filename


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def require(model: ModelFile, model_dir: str | os.PathLike | None = None) -> Path:
    """The model's path when it is there with the right size and SHA-256; else one sentence
    with the fix. Hashing is checked on every load (about a second for all three models at
    engine start): a file damaged or swapped after its download is never fed to ONNX Runtime.
    """
    path = model_path(model, model_dir)
    if not path.is_file():
        raise FaceSwapError(
            f"The {model.role} model {model.filename} is not installed in {path.parent}; "
            f"run: {install_command([model.name], model_dir)}"
        )
    size = path.stat().st_size
    if size != model.bytes:
        raise FaceSwapError(
            f"The {model.role} model {path} is damaged ({size:,} bytes, expected {model.bytes:,}); "
            f"run: {install_command([model.name], model_dir, force=True)}"
        )
    if sha256_file(path) != model.sha256:
        raise FaceSwapError(
            f"The {model.role} model {path} is damaged or not the expected file (its SHA-256 differs); "
            f"run: {install_command([model.name], model_dir, force=True)}"
        )
    return path
