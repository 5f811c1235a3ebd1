"""Where the installer records the worker's Python, and how OBS reads it back.

The installer (installer/install.py) writes a small JSON file, `obs-faceswap.json`, next
to `obs_faceswap.py`, so the OBS filter finds the worker's interpreter without the user
typing a path. This module is imported inside OBS's own Python: standard library only,
and reading never raises (a missing or damaged file just means "not configured").

File format (version 1)::

    {"version": 1,
     "worker_python": "/abs/path/.venv/bin/python",
     "venv": "/abs/path/.venv",
     "onnxruntime": "onnxruntime-gpu",
     "providers": ["tensorrt", "cuda", "cpu"],
     "installed_at": "2026-11-26T07:00:00Z"}

$OBS_FACESWAP_CONFIG names another file (tests, or several installs side by side).
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from .link import launch
from .link import system as systems

CONFIG_NAME = "obs-faceswap.json"
CONFIG_ENV = "OBS_FACESWAP_CONFIG"
FORMAT_VERSION = 1
REPLACE_PATIENCE_S = 5.0
PROJECT_ROOT = launch.PROJECT_ROOT


def config_path(project_root: str | None = None) -> str:
    """$OBS_FACESWAP_CONFIG, else obs-faceswap.json next to obs_faceswap.py."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(project_root or PROJECT_ROOT, CONFIG_NAME)


def read_config(path: str | None = None) -> dict:
    """The config's contents, or {} when there is none or it is not valid JSON."""
    try:
        with open(path or config_path(), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def configured_worker_python(path: str | None = None, system: str = systems.CURRENT) -> str | None:
    """The interpreter the installer set up, if the config names one that is there (judged
    as `system` can: launch.interpreter_present); else None.

    This is the one call the OBS side makes: a None means "fall back to the next way of
    finding the worker" ($OBS_FACESWAP_PYTHON, .venv next to the script).
    """
    python = read_config(path).get("worker_python")
    if isinstance(python, str) and python and launch.interpreter_present(python, system):
        return python
    return None


def configured_providers(path: str | None = None) -> tuple[str, ...]:
    """The execution providers (short names) the worker's ONNX Runtime offered when the
    installer checked it; () when not recorded (the filter then offers every one)."""
    providers = read_config(path).get("providers")
    if isinstance(providers, list) and all(isinstance(name, str) for name in providers):
        return tuple(providers)
    return ()


class ConfigLocked(PermissionError):
    """The config could not be replaced because another program holds it open."""


def write_config(values: dict, path: str | None = None) -> str:
    """Write the config atomically (a temporary file renamed into place); returns its path.

    Windows refuses to replace a file another program has open: an antivirus scanner
    reading the new file, OBS or an editor holding the old one. That lasts moments, so
    the rename is tried again for REPLACE_PATIENCE_S before ConfigLocked says what to do."""
    target = path or config_path()
    data = {"version": FORMAT_VERSION, **values}
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".obs-faceswap-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
            stream.write("\n")
        _replace_patiently(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return target


def _replace_patiently(temporary: str, target: str) -> None:
    deadline = time.monotonic() + REPLACE_PATIENCE_S
    pause = 0.05
    while True:
        try:
            os.replace(temporary, target)
            return
        except PermissionError as error:
            if time.monotonic() >= deadline:
                raise ConfigLocked(error.errno, f"Could not write {target}: another program keeps it open (often an "
                                   "antivirus scanner, or OBS itself). Close OBS, wait a moment and run the installer "
                                   "again.") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
