"""The settings schema: one description that the OBS dialog, the command line, the clamps
and the worker's engine options all come from."""

from __future__ import annotations

import ast
import math
from pathlib import Path

from faceswap_core import schema

PACKAGE = Path(schema.__file__).parent


def test_clamp_forces_each_kind_into_its_range():
    assert schema.clamp("opacity", 3) == 1.0 and schema.clamp("opacity", -1) == 0.0
    assert schema.clamp("max_faces", 2.6) == 3 and isinstance(schema.clamp("max_faces", 2.6), int)
    assert schema.clamp("opacity", math.nan) == 1.0 and schema.clamp("opacity", "x") == 1.0   # unusable: default
    assert schema.clamp("provider", "quantum") == "auto" and schema.clamp("provider", "cuda") == "cuda"
    assert schema.clamp("extra_photos", ["a.jpg", "", 3, None]) == ["a.jpg"]
    assert schema.clamp("pairs", [["a", "b"], ["c"], ["", "d"], ("e", "f")]) == [["a", "b"], ["e", "f"]]
    assert schema.clamp("pairs", 5) == []
    assert schema.clamped({"opacity": 2, "nonsense": 1}) == {"opacity": 1.0}


def test_defaults_are_fresh_lists():
    first = schema.defaults()
    first["extra_photos"].append("x")
    assert schema.defaults()["extra_photos"] == []


def test_a_setting_applies_only_for_its_engine_and_mapping():
    by = schema.BY_KEY
    assert schema.applies(by["opacity"], {"engine": "landmark"})
    assert not schema.applies(by["provider"], {"engine": "landmark"})
    assert schema.applies(by["provider"], {"engine": "neural"})
    assert not schema.applies(by["provider"], {"engine": "neural", "runtime": "torch"})
    assert schema.applies(by["device"], {"engine": "neural", "runtime": "torch"})
    assert not schema.applies(by["reference_photo"], {"engine": "neural", "face_mapping": "all"})
    assert schema.applies(by["match_distance"], {"engine": "neural", "face_mapping": "pairs"})
    assert not schema.applies(by["keep_glasses"], {"engine": "neural"})
    assert not schema.applies(by["provider"], {"engine": "bogus"})   # an unknown engine reads as the default


def test_engine_options_leave_out_what_does_not_apply():
    """A reference photo left in a hidden field must not reopen the engine or switch its mapping."""
    values = {"engine": "neural", "face_mapping": "all", "reference_photo": "/old.jpg", "det_size": 4000,
              "opacity": 0.3}
    options = schema.engine_options(schema.clamped(values))
    assert options["reference_photo"] == "" and options["det_size"] == 1280
    assert "opacity" not in options and "engine" not in options
    assert schema.engine_options({**values, "face_mapping": "reference"})["reference_photo"] == "/old.jpg"
    assert schema.engine_options({"engine": "landmark", "provider": "cuda"}) == {}


def test_every_setting_is_complete():
    keys = [setting.key for setting in schema.SETTINGS]
    assert len(keys) == len(set(keys))
    for setting in schema.SETTINGS:
        assert setting.label and setting.help, setting.key
        assert setting.target in ("options", "source", "engine", "output", "obs", "worker"), setting.key
        if setting.kind in ("int", "float"):
            assert setting.low <= setting.default <= setting.high, setting.key
        if setting.kind == "choice":
            assert setting.default in setting.values(), setting.key
        if setting.when:
            other = schema.BY_KEY[setting.when[0]]
            offered = {True, False} if other.kind == "bool" else set(other.values())
            assert set(setting.when[1]) <= offered, setting.key
    flags = [setting.flag for setting in schema.SETTINGS if setting.flag]
    assert len(flags) == len(set(flags))


def test_a_no_flag_says_what_turning_the_setting_off_does():
    """--no-colour's help read "Match the swapped face to your skin and light": what the
    flag turns off, read by users as what it does. Each --no-... flag now says what off does."""
    import argparse

    from faceswap_core.commands.setting_flags import argument_for

    negated = [setting for setting in schema.SETTINGS if setting.kind == "bool" and setting.default and setting.flag]
    assert {setting.flag for setting in negated} >= {"--no-mouth-mask", "--no-colour", "--no-glasses", "--no-mark",
                                                    "--no-credentials"}
    for setting in negated:
        assert setting.flag.startswith("--no-"), setting.key
        parser = argparse.ArgumentParser()
        parser.add_argument(setting.flag, dest=setting.key, **argument_for(setting))
        help_text = next(action.help for action in parser._actions if setting.flag in action.option_strings)
        assert help_text == setting.off_help.replace("%", "%%") and help_text != setting.help, setting.key
        assert "by default" in help_text.lower(), f"{setting.flag}: say what stays on without the flag"
        assert parser.parse_args([setting.flag]).__dict__[setting.key] is False
    colour = schema.BY_KEY["colour_correction"].off_help
    assert colour.startswith("Keep the photo's own colours")


def _clamp_calls(path: Path) -> list[int]:
    """Lines where a file calls the schema's clamp or clamped (by name or as an attribute)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "schema":
                called = func.attr
            else:
                called = getattr(func, "id", "")     # a tensor's .clamp() is no setting's
            if called in ("clamp", "clamped"):
                lines.append(node.lineno)
    return lines


def test_values_are_clamped_once_where_they_are_applied():
    """From the dialog (or the flags) to the engine a value is forced into range in one
    place: where the worker applies the published settings, or where the CLI reads its
    flags (and the one value OBS's side applies itself, the program mark's strength). Not
    again in the dialog's reading, the options, the engine or engine_options."""
    allowed = {PACKAGE / "worker" / "service.py", PACKAGE / "commands" / "engine_args.py", PACKAGE / "schema.py",
               PACKAGE / "obs" / "program_mark.py"}
    found = {path: _clamp_calls(path) for path in [*PACKAGE.rglob("*.py"), PACKAGE.parent / "obs_faceswap.py"]}
    elsewhere = {str(path.relative_to(PACKAGE.parent)): lines for path, lines in found.items()
                 if lines and path not in allowed}
    assert elsewhere == {}
    assert len(found[PACKAGE / "worker" / "service.py"]) == 1 and len(found[PACKAGE / "commands" / "engine_args.py"]) == 1
    # within the schema only `clamped` itself and the reading of the values a setting depends on
    schema_calls = {node.name for node in ast.walk(ast.parse((PACKAGE / "schema.py").read_text()))
                    if isinstance(node, ast.FunctionDef) and _calls_clamp(node)}
    assert schema_calls == {"clamped", "applies"}


def _calls_clamp(function: ast.FunctionDef) -> bool:
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("clamp", "clamped")
               for node in ast.walk(function) if node is not function)
