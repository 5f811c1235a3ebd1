"""Stand-in models (built once per test session) and the insightface reference, for every
test folder that runs the neural models (neural/, remote/, ...): a pytest plugin that
tests/conftest.py registers, so the folders share one set of stand-ins.

Each fixture imports what it needs when it runs: folders whose tests use none of them do
not need onnx installed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from testkit.helpers import require_module


def _standins():
    from testkit import standins

    return standins


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("standins")


@pytest.fixture(scope="session")
def detector_rank2(standin_dir) -> Path:
    return _standins().build_detector(standin_dir / "det_rank2.onnx", rank=2)


@pytest.fixture(scope="session")
def detector_rank3(standin_dir) -> Path:
    return _standins().build_detector(standin_dir / "det_rank3.onnx", rank=3)


@pytest.fixture(scope="session")
def recognizer_model(standin_dir) -> Path:
    return _standins().build_recognizer(standin_dir / "w600k_r50.onnx")


@pytest.fixture(scope="session")
def swapper_model(standin_dir) -> Path:
    return _standins().build_swapper(standin_dir / "inswapper_128.onnx")


@pytest.fixture(scope="session")
def swapper_fp16(standin_dir) -> Path:
    return _standins().build_swapper(standin_dir / "inswapper_128_fp16.onnx", fp16=True)


@pytest.fixture(scope="session")
def insightface_zoo():
    """insightface.model_zoo, the reference implementation (test-only, installed --no-deps)."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return require_module("insightface.model_zoo", "the test reference: pip install requests tqdm scikit-image "
                    "and pip install --no-deps insightface==2.1")
