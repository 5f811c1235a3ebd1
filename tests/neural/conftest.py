"""Stand-in models (built once per test session) and the insightface reference."""

from __future__ import annotations

import warnings

import pytest
from pathlib import Path

from testkit.helpers import require_module


require_module("onnxruntime", "pip install -e '.[neural]'")
require_module("onnx", "pip install -e '.[neural]'")

from testkit import standins  # noqa: E402  (after the checks above)


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("standins")


@pytest.fixture(scope="session")
def detector_rank2(standin_dir) -> Path:
    return standins.build_detector(standin_dir / "det_rank2.onnx", rank=2)


@pytest.fixture(scope="session")
def detector_rank3(standin_dir) -> Path:
    return standins.build_detector(standin_dir / "det_rank3.onnx", rank=3)


@pytest.fixture(scope="session")
def recognizer_model(standin_dir) -> Path:
    return standins.build_recognizer(standin_dir / "w600k_r50.onnx")


@pytest.fixture(scope="session")
def swapper_model(standin_dir) -> Path:
    return standins.build_swapper(standin_dir / "inswapper_128.onnx")


@pytest.fixture(scope="session")
def swapper_fp16(standin_dir) -> Path:
    return standins.build_swapper(standin_dir / "inswapper_128_fp16.onnx", fp16=True)


@pytest.fixture(scope="session")
def insightface_zoo():
    """insightface.model_zoo, the reference implementation (test-only, installed --no-deps)."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return require_module("insightface.model_zoo", "the test reference: pip install requests tqdm scikit-image "
                    "and pip install --no-deps insightface==2.1")
