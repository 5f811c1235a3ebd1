"""The filter's settings: names, defaults, the properties dialog, reading obs_data.

The engine list is spelled out here because the OBS side may not import the engines
(they need numpy); tests/test_obs_side.py checks it against faceswap_core.engines.ENGINES.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
from dataclasses import dataclass

from ..install_config import configured_worker_python
from ..link import launch
from ..link import system as systems
from . import libobs as L

ENGINE_CHOICES = (("landmark", "Landmark (CPU, no download)"), ("neural", "Neural (GPU, InsightFace models)"))
PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp);;All files (*.*)"
INTERPRETER_FILTER = "Python (python python3 python.exe);;All files (*.*)"
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_interpreter(system: str = systems.CURRENT) -> str:
    """The worker's Python when the Worker Python setting is empty.

    In order: what the installer recorded (obs-faceswap.json next to obs_faceswap.py),
    $OBS_FACESWAP_PYTHON, the .venv next to the project, python3 on PATH (never the
    Microsoft Store's alias, which is no Python).
    """
    installed = configured_worker_python()
    if installed:
        return installed
    configured = os.environ.get("OBS_FACESWAP_PYTHON")
    if configured:
        return configured
    candidate = launch.default_worker_python(system, os.path.join(PROJECT_ROOT, ".venv"))
    if os.path.exists(candidate):
        return candidate
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found and not launch.interpreter_problem(found, system):
            return found
    return candidate


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str        # "path", "int", "float", "bool", "engine", "interpreter", "audio" (a source's name)
    label: str
    default: object
    low: float = 0
    high: float = 0
    step: float = 1
    help: str = ""


SETTINGS = (
    Setting("enabled", "bool", "Enable swap", True, help="Off: the camera passes through untouched."),
    Setting("source_photo", "path", "Source photo", "", help="A photo of the face to put on the camera."),
    Setting("face_index", "int", "Face in the photo (0 = largest)", 0, 0, 16, 1),
    Setting("engine", "engine", "Engine", "landmark"),
    Setting("mouth_mask", "bool", "Mouth mask (your own mouth shows)", True),
    Setting("mouth_mask_size", "float", "Mouth mask size", 1.0, 0.5, 2.5, 0.05),
    Setting("keep_eyes", "bool", "Keep my eyes (your own eyes show)", False),
    Setting("keep_glasses", "bool", "Keep my glasses (their frames stay in front)", True,
            help="Off: the swapped face shows no glasses. Landmark engine."),
    Setting("opacity", "float", "Opacity", 1.0, 0.0, 1.0, 0.01),
    Setting("smoothing", "float", "Smoothing", 0.5, 0.0, 1.0, 0.05,
            help="0: the face follows every movement at once; 1: steadiest, fast turns lag a little."),
    Setting("max_faces", "int", "Max faces", 4, 1, 16, 1),
    Setting("sync_audio", "audio", "Keep this audio in sync", "",
            help="The swapped picture can show later than the camera's own: this source's sync offset "
                 "follows that delay, so your voice matches your lips. Given back when the filter is off."),
    Setting("python", "interpreter", "Worker Python", "",
            help="The Python that runs the swap; empty: the one the installer set up."),
)
KEYS = tuple(setting.key for setting in SETTINGS)
STRING_KINDS = ("path", "engine", "interpreter", "audio")
NO_AUDIO_LABEL = "(none)"
STATUS_KEY = "status"
REFRESH_KEY = "refresh_status"


def defaults() -> dict:
    return {setting.key: setting.default for setting in SETTINGS}


def apply_defaults(api, data) -> None:
    """Fill obs_data defaults (the get_defaults callback)."""
    obs = api.blocking
    for setting in SETTINGS:
        key = setting.key.encode()
        if setting.kind in STRING_KINDS:
            obs.obs_data_set_default_string(data, key, str(setting.default).encode())
        elif setting.kind == "bool":
            obs.obs_data_set_default_bool(data, key, bool(setting.default))
        elif setting.kind == "int":
            obs.obs_data_set_default_int(data, key, int(setting.default))
        elif setting.kind == "float":
            obs.obs_data_set_default_double(data, key, float(setting.default))


def read_settings(api, data, ignored: list | None = None) -> dict:
    """obs_data -> a plain dict of our settings (values clamped to their ranges).

    A saved scene collection can hold anything (edited by hand, another version, a
    broken file): a value of the wrong type, a number that is not finite, or an unknown
    engine reads as the setting's default, and its key is appended to `ignored` so the
    status line can say so.
    """
    obs = api.blocking
    values = {}
    for setting in SETTINGS:
        key = setting.key.encode()
        kind, numtype = _stored_type(obs, data, key)
        expected = {"bool": L.OBS_DATA_BOOLEAN, "int": L.OBS_DATA_NUMBER, "float": L.OBS_DATA_NUMBER}.get(
            setting.kind, L.OBS_DATA_STRING)
        if kind not in (L.OBS_DATA_NULL, expected):
            values[setting.key] = setting.default
            if ignored is not None:
                ignored.append(setting.key)
            continue
        if setting.kind in STRING_KINDS:
            raw = obs.obs_data_get_string(data, key)
            values[setting.key] = raw.decode("utf-8", "replace") if raw else ""
        elif setting.kind == "bool":
            values[setting.key] = bool(obs.obs_data_get_bool(data, key))
        elif setting.kind in ("int", "float"):
            number = (obs.obs_data_get_double(data, key) if numtype == L.OBS_DATA_NUM_DOUBLE or setting.kind == "float"
                      else obs.obs_data_get_int(data, key))
            if not math.isfinite(number):
                number = setting.default
                if ignored is not None:
                    ignored.append(setting.key)
            number = min(max(number, setting.low), setting.high)
            values[setting.key] = int(round(number)) if setting.kind == "int" else float(number)
    if values.get("engine") not in {name for name, _ in ENGINE_CHOICES}:
        if values.get("engine") and ignored is not None:
            ignored.append("engine")
        values["engine"] = "landmark"
    return values


def _stored_type(obs, data, key: bytes) -> tuple[int, int]:
    """(obs_data_type, number type) of the value stored under key; (NULL, 0) if none."""
    item = ctypes.c_void_p(obs.obs_data_item_byname(data, key))
    if not item.value:
        return L.OBS_DATA_NULL, 0
    try:
        kind = obs.obs_data_item_gettype(item)
        return kind, obs.obs_data_item_numtype(item) if kind == L.OBS_DATA_NUMBER else 0
    finally:
        obs.obs_data_item_release(ctypes.byref(item))


def build_properties(api, refresh_callback, instance_key, audio_sources=()) -> int:
    """The properties dialog (get_properties); refresh_callback is a kept-alive CFUNCTYPE;
    audio_sources: the names the "Keep this audio in sync" list offers."""
    obs = api.blocking
    props = obs.obs_properties_create()
    for setting in SETTINGS:
        key, label = setting.key.encode(), setting.label.encode()
        if setting.kind == "path":
            prop = obs.obs_properties_add_path(props, key, label, 0, PHOTO_FILTER.encode(), None)
        elif setting.kind == "interpreter":
            prop = obs.obs_properties_add_path(props, key, label, 0, INTERPRETER_FILTER.encode(), None)
        elif setting.kind == "bool":
            prop = obs.obs_properties_add_bool(props, key, label)
        elif setting.kind == "int":
            prop = obs.obs_properties_add_int(props, key, label, int(setting.low), int(setting.high), int(setting.step))
        elif setting.kind == "float":
            prop = obs.obs_properties_add_float_slider(props, key, label, setting.low, setting.high, setting.step)
        elif setting.kind == "engine":
            prop = obs.obs_properties_add_list(props, key, label, L.OBS_COMBO_TYPE_LIST, L.OBS_COMBO_FORMAT_STRING)
            for name, description in ENGINE_CHOICES:
                obs.obs_property_list_add_string(prop, description.encode(), name.encode())
        elif setting.kind == "audio":
            prop = obs.obs_properties_add_list(props, key, label, L.OBS_COMBO_TYPE_LIST, L.OBS_COMBO_FORMAT_STRING)
            obs.obs_property_list_add_string(prop, NO_AUDIO_LABEL.encode(), b"")
            for name in audio_sources:
                encoded = name.encode("utf-8")
                obs.obs_property_list_add_string(prop, encoded, encoded)
        else:
            continue
        text = setting.help or (f"Default: {default_interpreter()}" if setting.kind == "interpreter" else "")
        if text and prop:
            obs.obs_property_set_long_description(prop, text.encode())
    obs.obs_properties_add_text(props, STATUS_KEY.encode(), b"Status", 3)
    obs.obs_properties_add_button2(props, REFRESH_KEY.encode(), b"Refresh status", refresh_callback, instance_key)
    return props
