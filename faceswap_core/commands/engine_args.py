"""The swap settings as command-line flags, generated from faceswap_core.schema, for the
commands that create engines (swap, demo, bench)."""

from __future__ import annotations

import argparse

from .. import schema
from ..engines import ENGINES, Engine, create_engine
from ..errors import FaceSwapError
from ..options import SwapOptions
from .setting_flags import argument_for

def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    common = parser.add_argument_group("swap options")
    neural = parser.add_argument_group("neural engine (--engine neural)")
    for setting in schema.SETTINGS:
        if setting.flag:
            group = neural if setting.engines == schema.NEURAL else common
            engine_help = "; ".join(f"{name}: {info[2]}" for name, info in ENGINES.items())
            group.add_argument(setting.flag, dest=setting.key,
                               **argument_for(setting, engine_help if setting.key == "engine" else ""))


def values_from_args(args: argparse.Namespace) -> dict:
    """The settings the flags gave, as the same dict OBS's properties give (clamped).

    --reference or --pair alone choose their face mapping, as the words say.
    """
    values = {setting.key: getattr(args, setting.key) for setting in schema.SETTINGS
              if setting.flag and hasattr(args, setting.key)}
    pairs = []
    for item in values.get("pairs") or []:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise FaceSwapError(f"--pair takes SOURCE=TARGET (two photo paths), not '{item}'.")
        pairs.append([source, target])
    values["pairs"] = pairs
    if pairs and values.get("reference_photo"):
        raise FaceSwapError("Use either --reference or --pair, not both.")
    if values.get("face_mapping", "all") == "all":
        values["face_mapping"] = "pairs" if pairs else "reference" if values.get("reference_photo") else "all"
    return schema.clamped(values)


def engine_from_args(args: argparse.Namespace, patience_s: float = 0.0) -> Engine:
    """patience_s: Engine's (more than 0 when the input is a file, whose frames may wait)."""
    values = values_from_args(args)
    return create_engine(values["engine"], SwapOptions.from_mapping(values), patience_s=patience_s,
                         **schema.engine_options(values))
