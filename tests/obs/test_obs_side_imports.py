"""The OBS side must run in OBS's own Python with nothing installed: standard library only."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from testkit import helpers, obs_installs

PROBE = r"""
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
failed = {}
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
    except BaseException as error:
        failed[name] = f"{type(error).__name__}: {error}"
loaded = sorted(set(sys.modules) - before)
ours = ("obs_faceswap", "faceswap_core")
foreign = [name for name in loaded if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] not in ours]
print(json.dumps({"python": sys.version.split()[0], "failed": failed, "foreign": foreign, "loaded": loaded}))
"""


def _module_file(name: str):
    base = helpers.REPO.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return base / "__init__.py" if (base / "__init__.py").is_file() else None


def _our_imports(name: str, path) -> set:
    """Every module of ours that `name` imports anywhere, lazy imports inside functions too."""
    import ast

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module.split(".")[0] in ("faceswap_core", "obs_faceswap")}


def obs_side_modules() -> list:
    """Every module OBS's Python may load: obs_faceswap.py and, transitively, what it and
    each of those modules import, including imports inside functions (the mark filter's,
    the frontend's, the recording signer's), which a plain import of the script misses."""
    seen, todo = set(), ["obs_faceswap"]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:index]) for index in range(1, len(parts))] + sorted(_our_imports(name, path))
    return sorted(seen)


def test_the_obs_side_closure_reaches_the_lazy_imports():
    modules = obs_side_modules()
    assert {"faceswap_core.obs.program_mark", "faceswap_core.provenance.mark_layout",
            "faceswap_core.provenance.reed_solomon", "faceswap_core.obs.recordings", "faceswap_core.obs.frontend",
            "faceswap_core.obs.foreign"} <= set(modules), modules
    assert not any(name.startswith(("faceswap_core.engines", "faceswap_core.neural", "faceswap_core.vision"))
                   for name in modules), modules


@pytest.mark.parametrize("install", obs_installs.installs(), ids=lambda install: install.name)
def test_obs_side_imports_only_the_standard_library_in_each_obs_python(install):
    """In each OBS's own Python (Debian's OBS 29 on 3.11, 30.2.3 on 3.13, 32.2.2 on 3.14),
    isolated (-I) and without site-packages (-S), as a bare Python in OBS would be: every
    module the OBS side loads imports, and nothing outside the standard library comes in."""
    problem = install.problem()
    if problem:
        pytest.skip(problem)
    modules = obs_side_modules()
    done = subprocess.run(install.command(["/usr/bin/python3", "-I", "-S", "-c", PROBE, str(helpers.REPO),
                                           json.dumps(modules)]), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}, report["failed"]
    assert report["foreign"] == [], f"the OBS side imports non-standard modules on Python {report['python']}: " \
                                    f"{report['foreign']}"
    assert set(modules) <= set(report["loaded"])
    expected = {"host": "3.1", "trixie": "3.13", "sid": "3.14"}[install.name]
    assert report["python"].startswith(expected), report["python"]


def test_no_module_outside_the_link_names_a_header_field():
    """The contract between the two processes is written once: the filter, the worker and
    the supervisor speak through Channel and Exchange, never through raw field names."""
    import re

    from faceswap_core.link.layout import FIELDS

    access = re.compile(r"""\.(?:get|set)\(\s*["']([a-z_0-9]+)["']""")
    package = helpers.REPO / "faceswap_core"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "link":
            continue
        text = path.read_text(encoding="utf-8")
        named = sorted({name for name in access.findall(text) if name in FIELDS})
        if named:
            offenders.append(f"{path.relative_to(helpers.REPO)}: {', '.join(named)}")
    assert offenders == [], offenders


def test_engine_choices_match_the_engines():
    from faceswap_core.engines import ENGINES
    from faceswap_core.obs.properties import ENGINE_CHOICES, SETTINGS

    offered = {name for name, _ in ENGINE_CHOICES}
    assert set(ENGINES) == offered, f"engines and the filter's list differ: {set(ENGINES) ^ offered}"
    assert next(s.default for s in SETTINGS if s.key == "engine") in ENGINES


def test_the_schemas_options_are_swap_options_with_the_same_defaults():
    """Every "options" setting reaches SwapOptions under the same name and default, and
    SwapOptions has nothing the schema does not describe."""
    from dataclasses import fields

    from faceswap_core import schema
    from faceswap_core.options import SwapOptions

    option_fields = {field.name: field.default for field in fields(SwapOptions)}
    described = {key: schema.BY_KEY[key].default for key in schema.keys_for("options")}
    assert option_fields == described
    assert {"enabled", "mouth_mask", "mouth_mask_size", "keep_eyes", "opacity", "smoothing", "max_faces",
            "pixel_boost"} <= set(described)


def test_the_schemas_choices_match_what_the_code_accepts():
    """The choices the filter and the command line offer are the ones the engine takes."""
    from faceswap_core import schema
    from faceswap_core.engines.neural import PRECISIONS
    from faceswap_core.neural.mapping import MODES
    from faceswap_core.neural.providers import PROVIDERS
    from faceswap_core.neural.runners import RUNTIMES

    assert schema.BY_KEY["provider"].values() == ("auto", *PROVIDERS)
    assert set(schema.BY_KEY["runtime"].values()) == set(RUNTIMES)
    assert set(schema.BY_KEY["face_mapping"].values()) == set(MODES)
    assert set(schema.BY_KEY["precision"].values()) == set(PRECISIONS)


def test_neural_constructor_takes_every_engine_setting():
    """What the worker hands the neural engine (schema.engine_options) are its keywords."""
    import inspect

    from faceswap_core import schema
    from faceswap_core.engines.neural import NeuralEngine

    taken = set(inspect.signature(NeuralEngine.__init__).parameters)
    assert set(schema.engine_options({"engine": "neural"})) <= taken
    assert schema.engine_options({"engine": "landmark"}) == {}


def test_only_the_graphics_thread_paths_use_the_gil_holding_handle():
    """libobs calls that can block must go through the GIL-releasing CDLL handle.

    The PyDLL handle (`api.render` / `self.gs`) is for the graphics thread only: inside
    video_render (render.py) and filter_video (camera.py, where libobs ticks async
    sources) and the mark filter's video_render (program_mark.py), and the filter's
    video_tick for the parent alone (filter.py's follow_parent); any other module using it
    could deadlock OBS. camera.py may call only getters that take no lock.
    """
    import re

    folder = helpers.REPO / "faceswap_core" / "obs"
    offenders = []
    for path in sorted(folder.glob("*.py")):
        if path.name in ("render.py", "libobs.py", "camera.py", "program_mark.py"):
            continue
        text = path.read_text()
        if path.name == "filter.py":   # follow_parent, from video_tick: one lock-free getter
            follow = text[text.index("    def follow_parent("):text.index("    def _drop_hotkeys(")]
            assert re.findall(r"api\.render\.(\w+)", follow) == ["obs_filter_get_parent"], follow
            text = text.replace(follow, "")
        if "api.render" in text or ".gs." in text or "PyDLL" in text:
            offenders.append(path.name)
    assert offenders == []
    render = (folder / "render.py").read_text()
    destroy = render[render.index("    def destroy(self)"):]
    assert "self.api.blocking" in destroy and "self.gs" not in destroy, "destroy runs outside video_render"
    marks = (folder / "program_mark.py").read_text()
    graphics = marks[marks.index("    def _video_render("):]        # _video_render and _prepare, to the end
    assert "api.render" not in marks.replace(graphics, ""), "the mark filter uses api.render off the graphics thread"
    assert "self.api.blocking" in marks[marks.index("    def _destroy("):marks.index("    def _video_render(")]
    camera_calls = set(re.findall(r"\bgs\.(\w+)\(", (folder / "camera.py").read_text()))
    assert camera_calls and camera_calls <= {"obs_filter_get_parent", "obs_filter_get_target", "obs_source_enabled",
                                             "obs_source_get_output_flags", "obs_get_frame_interval_ns"}, camera_calls


def test_default_interpreter_is_the_installers(tmp_path, monkeypatch):
    """Worker Python left empty: the interpreter the installer recorded, then the fallbacks."""
    from faceswap_core.install_config import write_config
    from faceswap_core.link.launch import worker_interpreter as default_interpreter

    python = tmp_path / "python"
    python.write_text("")
    config = tmp_path / "obs-faceswap.json"
    write_config({"worker_python": str(python)}, str(config))
    monkeypatch.setenv("OBS_FACESWAP_CONFIG", str(config))
    monkeypatch.setenv("OBS_FACESWAP_PYTHON", "/elsewhere/python")
    assert default_interpreter() == str(python)
    monkeypatch.setenv("OBS_FACESWAP_CONFIG", str(tmp_path / "absent.json"))
    assert default_interpreter() == "/elsewhere/python"


def test_libobs_prototypes_resolve_in_the_real_library():
    """Every function the filter calls exists in the installed libobs (names and handles)."""
    if not os.path.exists(helpers.LIBOBS):
        pytest.skip(f"{helpers.LIBOBS} is absent: apt-get install obs-studio")
    from faceswap_core.obs.libobs import BLOCKING_FUNCTIONS, RENDER_FUNCTIONS, LibObs

    api = LibObs(helpers.LIBOBS)
    assert all(hasattr(api.blocking, name) for name in BLOCKING_FUNCTIONS)
    assert all(hasattr(api.render, name) for name in RENDER_FUNCTIONS)


def test_source_info_prefix_matches_obs_29_layout():
    """Offsets of obs_source_info fields as in libobs/obs-source.h (64-bit)."""
    import ctypes

    from faceswap_core.obs.source_info import ObsSourceInfo

    assert ObsSourceInfo.get_name.offset == 16
    assert ObsSourceInfo.video_render.offset == 16 + 13 * 8
    assert ObsSourceInfo.filter_remove.offset == 16 + 24 * 8
    assert ctypes.sizeof(ObsSourceInfo) == 16 + 25 * 8
