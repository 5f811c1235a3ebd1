import argparse

import pytest

from faceswap_core.errors import FaceSwapError
from faceswap_core.neural.cli_args import add_engine_arguments, engine_kwargs


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_and_pairs():
    kwargs = engine_kwargs(_parse(["--pair", "a.jpg=b.jpg", "--pair", "c.jpg=d.jpg", "--provider", "cuda"]))
    assert kwargs["pairs"] == [("a.jpg", "b.jpg"), ("c.jpg", "d.jpg")]
    assert kwargs["provider"] == "cuda" and kwargs["det_size"] == 640 and kwargs["reference_photo"] is None


def test_bad_pair_and_conflicts():
    with pytest.raises(FaceSwapError, match="SOURCE=TARGET"):
        engine_kwargs(_parse(["--pair", "a.jpg"]))
    with pytest.raises(FaceSwapError, match="either --reference or --pair"):
        engine_kwargs(_parse(["--pair", "a=b", "--reference", "c.jpg"]))
    with pytest.raises(SystemExit):
        _parse(["--provider", "npu"])
