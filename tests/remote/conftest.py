"""The remote runtime's tests (a real Triton server) need ONNX Runtime, onnx and tritonclient;
the stand-in models are testkit.model_fixtures'."""

from __future__ import annotations

from testkit.helpers import require_module

require_module("onnxruntime", "pip install -e '.[neural]'")
require_module("onnx", "pip install -e '.[neural]'")
