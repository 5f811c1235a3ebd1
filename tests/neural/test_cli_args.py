"""The command line's swap flags, generated from the settings schema."""

import argparse

import pytest

from faceswap_core import schema
from faceswap_core.commands.engine_args import add_engine_arguments, values_from_args
from faceswap_core.errors import FaceSwapError


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_and_pairs():
    values = values_from_args(_parse(["--pair", "a.jpg=b.jpg", "--pair", "c.jpg=d.jpg", "--provider", "cuda"]))
    assert values["pairs"] == [["a.jpg", "b.jpg"], ["c.jpg", "d.jpg"]]
    assert values["face_mapping"] == "pairs"   # --pair alone says which mapping
    assert values["provider"] == "cuda" and values["det_size"] == 640 and values["reference_photo"] == ""
    options = schema.engine_options(values | {"engine": "neural"})
    assert options["pairs"] == values["pairs"] and options["reference_photo"] == ""


def test_every_flag_of_the_schema_is_on_the_command_line_with_its_default():
    values = values_from_args(_parse([]))
    flagged = [setting for setting in schema.SETTINGS if setting.flag]
    assert {setting.key for setting in flagged} == set(values)
    for setting in flagged:
        assert values[setting.key] == schema.default_of(setting), setting.key


def test_values_are_clamped_like_the_filters():
    values = values_from_args(_parse(["--opacity", "7", "--det-size", "5000", "--max-faces", "0", "--no-mouth-mask"]))
    assert values["opacity"] == 1.0 and values["det_size"] == 1280 and values["max_faces"] == 1
    assert values["mouth_mask"] is False


def test_bad_pair_and_conflicts():
    with pytest.raises(FaceSwapError, match="SOURCE=TARGET"):
        values_from_args(_parse(["--pair", "a.jpg"]))
    with pytest.raises(FaceSwapError, match="either --reference or --pair"):
        values_from_args(_parse(["--pair", "a=b", "--reference", "c.jpg"]))
    with pytest.raises(SystemExit):
        _parse(["--provider", "npu"])
