"""The neural tests need ONNX Runtime and onnx; the stand-in models and the insightface
reference they use are testkit.model_fixtures' (registered in tests/conftest.py)."""

from __future__ import annotations

from testkit.helpers import require_module

require_module("onnxruntime", "pip install -e '.[neural]'")
require_module("onnx", "pip install -e '.[neural]'")
