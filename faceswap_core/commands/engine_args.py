"""The swap settings as command-line flags, generated from faceswap_core.schema, for the
commands that create engines (swap, demo, bench)."""

from __future__ import annotations

import argparse

from .. import schema
from ..engines import ENGINES, Engine, create_engine
from ..errors import FaceSwapError
from ..options import SwapOptions

METAVARS = {"path": "PHOTO", "photos": "PHOTO", "pairs": "SOURCE=TARGET", "model": "FILE", "folder": "DIR", "text": "TEXT", "secret": "KEY", "file": "FILE", "int": "N", "float": "X"}


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    common = parser.add_argument_group("swap options")
    neural = parser.add_argument_group("neural engine (--engine neural)")
    for setting in schema.SETTINGS:
        if setting.flag:
            group = neural if setting.engines == schema.NEURAL else common
            group.add_argument(setting.flag, dest=setting.key, **_argument(setting))


def _argument(setting: schema.Setting) -> dict:
    """argparse's keywords for one setting: its type, default, choices and help with the range."""
    text = setting.help.replace("%", "%%")
    if setting.kind == "bool":
        return {"action": "store_false" if setting.default else "store_true", "help": text}
    argument = {"default": schema.default_of(setting), "metavar": METAVARS.get(setting.kind)}
    if setting.kind in ("photos", "pairs"):
        return {**argument, "action": "append", "help": f"{text} Repeat for several."}
    if setting.kind == "choice":
        argument.update(choices=setting.values(), metavar=None)
        if setting.key == "engine":
            text = "; ".join(f"{name}: {info[2]}" for name, info in ENGINES.items())
    if setting.kind in ("int", "float"):
        argument["type"] = int if setting.kind == "int" else float
        text = f"{text} {setting.low:g}-{setting.high:g}"
    return {**argument, "help": f"{text} (default: %(default)s)" if setting.default != "" else text}


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


def engine_from_args(args: argparse.Namespace) -> Engine:
    values = values_from_args(args)
    return create_engine(values["engine"], SwapOptions.from_mapping(values), **schema.engine_options(values))
