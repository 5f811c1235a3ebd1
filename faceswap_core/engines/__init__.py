"""Engines by name. Imported lazily: the neural engine's runtime need not be installed
for the landmark engine to run, and the reverse."""

from __future__ import annotations

import importlib

from .. import schema
from ..errors import FaceSwapError
from ..options import SwapOptions
from .base import Engine, FrameReport, SourceInfo

DEFAULT_ENGINE = schema.DEFAULT_ENGINE

# name -> (module, class, one line for --help and the OBS engine list)
ENGINES: dict[str, tuple[str, str, str]] = {
    "landmark": (".landmark", "LandmarkEngine", "zero-download mesh warp, CPU real-time"),
    "neural": (".neural", "NeuralEngine", "insightface SCRFD + ArcFace + inswapper_128, GPU (faceswap models install)"),
}


def create_engine(name: str = DEFAULT_ENGINE, options: SwapOptions | None = None, **kwargs) -> Engine:
    """A new engine instance; unknown names get a message listing the known ones."""
    try:
        module_name, class_name, _ = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise FaceSwapError(f"Unknown engine '{name}'; choose one of: {known}.") from None
    module = importlib.import_module(module_name, __package__)
    return getattr(module, class_name)(options, **kwargs)


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "FrameReport", "SourceInfo", "create_engine"]
