"""Whether the torch runtime can run here, and the module-level skip (or, where
FACESWAP_REQUIRE_TORCH=1 is set, as CI should once it installs the gpu extra, the failure)
that every test module here starts with."""

from __future__ import annotations

import os

import pytest


def missing() -> str | None:
    """None when torch and onnx2torch import, else the reason with what to install."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed: pip install -e '.[neural]'"
    try:
        import torch  # noqa: F401
    except ImportError:
        return ("torch is not installed: pip install torch (the CPU build is enough), then "
                "pip install --no-deps onnx2torch (the gpu extra)")
    try:
        from faceswap_core.neural.runner_torch import import_onnx2torch

        import_onnx2torch()
    except Exception as error:  # FaceSwapError naming the package
        return str(error)
    return None


def require_torch() -> None:
    reason = missing()
    if reason is None:
        return
    if os.environ.get("FACESWAP_REQUIRE_TORCH"):
        pytest.fail(f"FACESWAP_REQUIRE_TORCH is set but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
