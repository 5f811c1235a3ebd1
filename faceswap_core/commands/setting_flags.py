"""A setting of faceswap_core.schema as a command-line flag: the one place that turns a
setting's kind, range and default into argparse's keywords. Standard library only, so
`faceswap doctor` builds its parser even when the worker's numpy is broken."""

from __future__ import annotations

from .. import schema

METAVARS = {"path": "PHOTO", "photos": "PHOTO", "pairs": "SOURCE=TARGET", "model": "FILE", "folder": "DIR",
            "text": "TEXT", "secret": "KEY", "file": "FILE", "int": "N", "float": "X"}


def argument_for(setting: schema.Setting, help_text: str = "") -> dict:
    """argparse's keywords for one setting: its type, default, choices and help with the
    range. help_text: instead of the setting's own help (the engine list names engines)."""
    text = (help_text or setting.help).replace("%", "%%")
    if setting.kind == "bool":
        if setting.default:   # the flag turns it off: its help says what off does
            return {"action": "store_false", "help": (help_text or setting.off_help).replace("%", "%%")}
        return {"action": "store_true", "help": text}
    argument = {"default": schema.default_of(setting), "metavar": setting.metavar or METAVARS.get(setting.kind)}
    if setting.kind in ("photos", "pairs"):
        return {**argument, "action": "append", "help": f"{text} Repeat for several."}
    if setting.kind == "choice":
        argument.update(choices=setting.values(), metavar=None)
    if setting.kind in ("int", "float"):
        argument["type"] = int if setting.kind == "int" else float
        text = f"{text} {setting.low:g}-{setting.high:g}"
    return {**argument, "help": f"{text} (default: %(default)s)" if setting.default != "" else text}
