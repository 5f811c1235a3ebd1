"""The filter's settings in OBS: the properties dialog, defaults, reading obs_data.

Generated from faceswap_core.schema (what each setting is, its range and help); this
module knows only how OBS stores and shows each kind.
"""

from __future__ import annotations

import ctypes
import math

from .. import schema
from ..install_config import configured_providers
from ..link import launch
from . import libobs as L

ENGINE_CHOICES = schema.ENGINE_CHOICES
PHOTO_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp);;All files (*.*)"
MODEL_FILTER = "ONNX models (*.onnx);;All files (*.*)"
INTERPRETER_FILTER = "Python (python python3 python.exe);;All files (*.*)"
PEM_FILTER = "PEM files (*.pem *.crt *.key);;All files (*.*)"
FILE_FILTERS = {"path": PHOTO_FILTER, "model": MODEL_FILTER, "interpreter": INTERPRETER_FILTER, "file": PEM_FILTER}


SETTINGS = tuple(setting for setting in schema.SETTINGS if setting.in_obs)
KEYS = tuple(setting.key for setting in SETTINGS)
NO_AUDIO_LABEL = "(none)"
STATUS_KEY = "status"
REFRESH_KEY = "refresh_status"
# what a change of these shows or hides (the engine's own settings, a reference photo, pairs)
CONTROLLING = tuple(sorted({"engine", *(setting.when[0] for setting in SETTINGS if setting.when)}))
STORED_TYPE = {"bool": L.OBS_DATA_BOOLEAN, "int": L.OBS_DATA_NUMBER, "float": L.OBS_DATA_NUMBER,
               "photos": L.OBS_DATA_ARRAY}


def pair_keys(slot: int) -> tuple[str, str]:
    """The two photo fields of pair `slot` (0-based) in OBS's settings: wear, and on whom."""
    return f"pair{slot + 1}_photo", f"pair{slot + 1}_person"


def obs_keys(setting: schema.Setting) -> tuple[str, ...]:
    """The obs_data keys a setting is stored under (a pair list takes two per slot)."""
    if setting.kind == "pairs":
        return tuple(key for slot in range(schema.PAIR_SLOTS) for key in pair_keys(slot))
    return (setting.key,)


def apply_defaults(api, data) -> None:
    """Fill obs_data defaults (the get_defaults callback); a list has none (empty)."""
    obs = api.blocking
    for setting in SETTINGS:
        if setting.kind == "pairs":
            for key in obs_keys(setting):
                obs.obs_data_set_default_string(data, key.encode(), b"")
        elif setting.kind in schema.STRING_KINDS:
            obs.obs_data_set_default_string(data, setting.key.encode(), str(setting.default).encode())
        elif setting.kind == "bool":
            obs.obs_data_set_default_bool(data, setting.key.encode(), bool(setting.default))
        elif setting.kind == "int":
            obs.obs_data_set_default_int(data, setting.key.encode(), int(setting.default))
        elif setting.kind == "float":
            obs.obs_data_set_default_double(data, setting.key.encode(), float(setting.default))


def read_settings(api, data, ignored: list | None = None) -> dict:
    """obs_data -> a plain dict of our settings, as stored (the worker clamps them).

    A saved scene collection can hold anything (edited by hand, another version, a
    broken file): a value of the wrong type, a number that is not finite, or a choice
    that is not offered reads as the setting's default, and its key is appended to
    `ignored` so the status line can say so.
    """
    obs = api.blocking
    values = {}
    for setting in SETTINGS:
        if setting.kind == "pairs":
            values[setting.key] = _read_pairs(obs, data)
            continue
        key = setting.key.encode()
        kind, numtype = _stored_type(obs, data, key)
        if kind not in (L.OBS_DATA_NULL, STORED_TYPE.get(setting.kind, L.OBS_DATA_STRING)):
            values[setting.key] = schema.default_of(setting)
            if ignored is not None:
                ignored.append(setting.key)
            continue
        if setting.kind == "photos":
            raw = _read_files(obs, data, key)
        elif setting.kind in schema.STRING_KINDS:
            raw = _string(obs, data, setting.key)
        elif setting.kind == "bool":
            raw = bool(obs.obs_data_get_bool(data, key))
        else:
            raw = (obs.obs_data_get_double(data, key) if numtype == L.OBS_DATA_NUM_DOUBLE or setting.kind == "float"
                   else obs.obs_data_get_int(data, key))
        unusable = ((setting.kind in ("int", "float") and not math.isfinite(raw))
                    or (setting.kind == "choice" and raw and raw not in setting.values()))
        if unusable and ignored is not None:
            ignored.append(setting.key)
        # into range where the worker applies it (schema.clamped, once); unusable: the default
        values[setting.key] = schema.default_of(setting) if unusable else raw
    return values


def _read_pairs(obs, data) -> list:
    pairs = []
    for slot in range(schema.PAIR_SLOTS):
        photo, person = (_string(obs, data, key) for key in pair_keys(slot))
        if photo and person:
            pairs.append([photo, person])
    return pairs


def _string(obs, data, key: str) -> str:
    text = obs.obs_data_get_string(data, key.encode())
    return text.decode("utf-8", "replace") if text else ""


def _read_files(obs, data, key: bytes) -> list:
    """An editable file list: an array of objects whose "value" is the path."""
    array = obs.obs_data_get_array(data, key)
    if not array:
        return []
    try:
        paths = []
        for index in range(obs.obs_data_array_count(array)):
            item = obs.obs_data_array_item(array, index)
            if item:
                paths.append(_string(obs, item, "value"))
                obs.obs_data_release(item)
        return [path for path in paths if path]
    finally:
        obs.obs_data_array_release(array)


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


def choices_for(setting: schema.Setting) -> tuple:
    """A choice's (value, label) pairs as the dialog offers them: execution providers only
    those the worker's ONNX Runtime has, when the installer recorded them."""
    installed = configured_providers() if setting.key == "provider" else ()
    if not installed:
        return setting.choices
    return tuple((value, label) for value, label in setting.choices if value == "auto" or value in installed)


def build_properties(api, refresh_callback, instance_key, audio_sources=(), modified_callback=None) -> int:
    """The properties dialog (get_properties); the callbacks are kept-alive CFUNCTYPEs;
    audio_sources: the names the "Keep this audio in sync" list offers. modified_callback
    goes on the settings that show or hide others (libobs calls it once when the dialog
    opens, then on each change)."""
    obs = api.blocking
    props = obs.obs_properties_create()
    for setting in SETTINGS:
        for prop, text in _add_property(obs, props, setting, audio_sources):
            if text and prop:
                obs.obs_property_set_long_description(prop, text.encode())
            if prop and modified_callback is not None and setting.key in CONTROLLING:
                obs.obs_property_set_modified_callback(prop, modified_callback)
    obs.obs_properties_add_text(props, STATUS_KEY.encode(), b"Status", L.OBS_TEXT_INFO)
    obs.obs_properties_add_button2(props, REFRESH_KEY.encode(), b"Refresh status", refresh_callback, instance_key)
    return props


def _add_property(obs, props, setting: schema.Setting, audio_sources) -> list:
    """The property (or properties: a pair list has two per slot) for one setting, with
    its help text."""
    key, label = setting.key.encode(), setting.label.encode()
    text = setting.help
    if setting.kind == "pairs":
        return [(obs.obs_properties_add_path(props, field.encode(), f"Pair {slot + 1}: {words}".encode(),
                                             L.OBS_PATH_FILE, PHOTO_FILTER.encode(), None), text)
                for slot in range(schema.PAIR_SLOTS)
                for field, words in zip(pair_keys(slot), ("wear this face", "on this person"))]
    if setting.kind in FILE_FILTERS:
        prop = obs.obs_properties_add_path(props, key, label, L.OBS_PATH_FILE, FILE_FILTERS[setting.kind].encode(), None)
        if setting.kind == "interpreter":
            text = f"{setting.help} Now: {launch.worker_interpreter()}"
    elif setting.kind == "photos":
        prop = obs.obs_properties_add_editable_list(props, key, label, L.OBS_EDITABLE_LIST_TYPE_FILES,
                                                    PHOTO_FILTER.encode(), None)
    elif setting.kind == "bool":
        prop = obs.obs_properties_add_bool(props, key, label)
    elif setting.kind in ("text", "secret"):
        prop = obs.obs_properties_add_text(props, key, label,
                                           L.OBS_TEXT_PASSWORD if setting.kind == "secret" else L.OBS_TEXT_DEFAULT)
    elif setting.kind == "int":
        prop = obs.obs_properties_add_int(props, key, label, int(setting.low), int(setting.high), int(setting.step))
    elif setting.kind == "float":
        prop = obs.obs_properties_add_float_slider(props, key, label, setting.low, setting.high, setting.step)
    elif setting.kind == "choice":
        prop = obs.obs_properties_add_list(props, key, label, L.OBS_COMBO_TYPE_LIST, L.OBS_COMBO_FORMAT_STRING)
        for value, description in choices_for(setting):
            obs.obs_property_list_add_string(prop, description.encode(), value.encode())
    elif setting.kind == "audio":
        prop = obs.obs_properties_add_list(props, key, label, L.OBS_COMBO_TYPE_LIST, L.OBS_COMBO_FORMAT_STRING)
        obs.obs_property_list_add_string(prop, NO_AUDIO_LABEL.encode(), b"")
        for name in audio_sources:
            encoded = name.encode("utf-8")
            obs.obs_property_list_add_string(prop, encoded, encoded)
    else:
        return []
    return [(prop, text)]


def show_applicable(api, props, data) -> None:
    """Show the settings that matter with these values, hide the others (another engine's,
    a reference photo while every face is swapped)."""
    obs = api.blocking
    values = read_settings(api, data)
    for setting in SETTINGS:
        visible = schema.applies(setting, values)
        for key in obs_keys(setting):
            prop = obs.obs_properties_get(props, key.encode())
            if prop:
                obs.obs_property_set_visible(prop, visible)
