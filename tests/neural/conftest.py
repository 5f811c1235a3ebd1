"""The neural tests need ONNX Runtime and onnx; the stand-in models and the insightface
reference they use are testkit.model_fixtures' (registered in tests/conftest.py)."""

from __future__ import annotations

import pytest

from testkit.helpers import require_module

require_module("onnxruntime", "pip install -e '.[neural]'")
require_module("onnx", "pip install -e '.[neural]'")


@pytest.fixture(scope="module")
def model_paths(recognizer_model, swapper_model):
    """The real SCRFD-500M detector with the stand-in recognizer and swapper, by role."""
    from testkit.judge import shared_model

    return {"detector": str(shared_model("scrfd_500m_bnkps.onnx")),
            "recognizer": str(recognizer_model), "swapper": str(swapper_model)}
