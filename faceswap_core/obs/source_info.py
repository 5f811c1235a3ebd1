"""struct obs_source_info as ctypes, the prefix up to filter_remove.

Field order follows libobs/obs-source.h of OBS 28/29 (the oldest supported). libobs
copies only the size passed to obs_register_source_s and zero-fills the rest, so a prefix
that ends after the last callback we use is a complete registration. But libobs reads
`version` (offset 368 on 64-bit, past this prefix) before it checks the size
(libobs/obs-module.c, 29.0 to 32.2), so the prefix is passed inside a zeroed buffer of
INFO_BUFFER_SIZE bytes.
"""

from __future__ import annotations

import ctypes
from ctypes import CFUNCTYPE, c_bool, c_char_p, c_float, c_uint32, c_void_p

from . import libobs as L

P = c_void_p
INFO_BUFFER_SIZE = 512
GET_NAME = CFUNCTYPE(P, P)              # const char *(*)(void *type_data): returned as an address
CREATE = CFUNCTYPE(P, P, P)             # void *(*)(obs_data_t *settings, obs_source_t *source)
DESTROY = CFUNCTYPE(None, P)
GET_SIZE = CFUNCTYPE(c_uint32, P)
GET_DEFAULTS = CFUNCTYPE(None, P)       # void (*)(obs_data_t *settings)
GET_PROPERTIES = CFUNCTYPE(P, P)        # obs_properties_t *(*)(void *data)
UPDATE = CFUNCTYPE(None, P, P)
VOID_DATA = CFUNCTYPE(None, P)
VIDEO_TICK = CFUNCTYPE(None, P, c_float)
VIDEO_RENDER = CFUNCTYPE(None, P, P)    # void (*)(void *data, gs_effect_t *effect)
FILTER_VIDEO = CFUNCTYPE(P, P, P)       # struct obs_source_frame *(*)(void *data, struct obs_source_frame *frame)
FILTER_REMOVE = CFUNCTYPE(None, P, P)
BUTTON_CLICKED = CFUNCTYPE(c_bool, P, P, P)  # bool (*)(props, property, void *data)
PROPERTY_MODIFIED = CFUNCTYPE(c_bool, P, P, P)  # bool (*)(props, property, obs_data_t *settings)


class ObsSourceInfo(ctypes.Structure):
    _fields_ = [
        ("id", c_char_p),
        ("type", ctypes.c_int),
        ("output_flags", c_uint32),
        ("get_name", GET_NAME),
        ("create", CREATE),
        ("destroy", DESTROY),
        ("get_width", GET_SIZE),
        ("get_height", GET_SIZE),
        ("get_defaults", GET_DEFAULTS),
        ("get_properties", GET_PROPERTIES),
        ("update", UPDATE),
        ("activate", VOID_DATA),
        ("deactivate", VOID_DATA),
        ("show", VOID_DATA),
        ("hide", VOID_DATA),
        ("video_tick", VIDEO_TICK),
        ("video_render", VIDEO_RENDER),
        ("filter_video", FILTER_VIDEO),
        ("filter_audio", P),
        ("enum_active_sources", P),
        ("save", P),
        ("load", P),
        ("mouse_click", P),
        ("mouse_move", P),
        ("mouse_wheel", P),
        ("focus", P),
        ("key_click", P),
        ("filter_remove", FILTER_REMOVE),
    ]


def video_filter_info(type_id, callbacks: dict) -> tuple[ObsSourceInfo, ctypes.Array]:
    """A video filter type's struct with these callbacks (field name -> CFUNCTYPE), and the
    zeroed buffer it is registered from: libobs reads info->version (offset 368 on 64-bit,
    past our prefix) before it looks at the size passed. Flagged OBS_SOURCE_VIDEO only (not
    ASYNC), so a filter attaches to every kind of source; libobs calls filter_video of any
    filter on an async source's frames (filter_async_video checks only that the callback is
    set) and video_render always. type_id: a string buffer kept alive by the caller."""
    info = ObsSourceInfo()
    info.id = ctypes.cast(type_id, c_char_p)
    info.type = L.OBS_SOURCE_TYPE_FILTER
    info.output_flags = L.OBS_SOURCE_VIDEO
    for name, callback in callbacks.items():
        setattr(info, name, callback)
    buffer = ctypes.create_string_buffer(max(INFO_BUFFER_SIZE, ctypes.sizeof(info)))
    ctypes.memmove(buffer, ctypes.byref(info), ctypes.sizeof(info))
    return info, buffer


def register_once(api, type_id: bytes, info: ObsSourceInfo, buffer) -> bool:
    """Registers the type unless this process has it (a script reload); True if it did now."""
    if api.blocking.obs_get_source_output_flags(type_id):
        return False
    api.blocking.obs_register_source_s(buffer, ctypes.sizeof(info))
    return True
