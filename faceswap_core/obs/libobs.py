"""libobs through ctypes: the functions, constants and structs the filter needs.

Two handles on the same library, on purpose (see docs in shared/obs-integration.md):
`blocking` is a ctypes.CDLL: every call releases the GIL, so a libobs function that waits
on a mutex held by the graphics thread can never deadlock with our own video_render
waiting for the GIL. `render` is a ctypes.PyDLL used only inside video_render (graphics
thread, graphics context current): keeping the GIL there avoids a GIL hand-off per call.

Which libobs: the one already loaded in the process, found before any lookup by name.
Loading it by a name can load a second, uninitialised copy (macOS keeps it inside
OBS.app's libobs.framework, where find_library does not look). Every function has its
argument and result types declared (foreign.py says why), variadic ones for their fixed
arguments: on Apple's arm64 ABI the variable arguments of a call without them land in the
wrong place (CPython gh-92892), and the first log line garbles or crashes OBS.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import POINTER, c_bool, c_char_p, c_double, c_float, c_int, c_int64, c_size_t, c_uint8, c_uint32, c_void_p

from .foreign import Functions, windows_module

# enum obs_source_type / output flags (libobs/obs-source.h)
OBS_SOURCE_TYPE_FILTER = 1
OBS_SOURCE_VIDEO = 1 << 0
OBS_SOURCE_AUDIO = 1 << 1
OBS_SOURCE_ASYNC = 1 << 2
# enum gs_color_format, gs_zstencil_format, flags (libobs/graphics/graphics.h)
GS_RGBA = 3
GS_BGRA = 5
GS_ZS_NONE = 0
GS_DYNAMIC = 1 << 1
GS_CLEAR_COLOR = 1 << 0
GS_BLEND_ZERO = 0
GS_BLEND_ONE = 1
# enum obs_base_effect
OBS_EFFECT_DEFAULT = 0
# properties (libobs/obs-properties.h)
OBS_PATH_FILE = 0
OBS_TEXT_DEFAULT = 0
OBS_TEXT_PASSWORD = 1
OBS_TEXT_INFO = 3
OBS_COMBO_TYPE_LIST = 2
OBS_COMBO_FORMAT_STRING = 3
OBS_EDITABLE_LIST_TYPE_FILES = 1
# enum obs_data_type, obs_data_number_type (libobs/obs-data.h)
OBS_DATA_NULL = 0
OBS_DATA_STRING = 1
OBS_DATA_NUMBER = 2
OBS_DATA_BOOLEAN = 3
OBS_DATA_ARRAY = 5
OBS_DATA_NUM_DOUBLE = 2
# log levels (libobs/util/base.h)
LOG_ERROR = 100
LOG_WARNING = 200
LOG_INFO = 300

P = c_void_p
# name -> (restype, argtypes)
BLOCKING_FUNCTIONS = {
    "obs_register_source_s": (None, [P, c_size_t]),
    "obs_enum_scenes": (None, [P, P]),
    "obs_scene_from_source": (P, [P]),
    "obs_scene_find_source_recursive": (P, [P, c_char_p]),
    "obs_source_get_filter_by_name": (P, [P, c_char_p]),
    "obs_source_create": (P, [c_char_p, c_char_p, P, P]),
    "obs_source_filter_add": (None, [P, P]),
    "gs_effect_destroy": (None, [P]),
    # the mark filter draws its whole scene through these: the GIL stays free meanwhile
    "obs_source_process_filter_begin": (c_bool, [P, c_int, c_int]),
    "obs_source_process_filter_end": (None, [P, P, c_uint32, c_uint32]),
    "obs_get_source_output_flags": (c_uint32, [c_char_p]),
    "obs_source_get_settings": (P, [P]),
    "obs_source_get_name": (c_char_p, [P]),
    "obs_data_release": (None, [P]),
    "obs_data_get_string": (c_char_p, [P, c_char_p]),
    "obs_data_get_int": (c_int64, [P, c_char_p]),
    "obs_data_get_double": (c_double, [P, c_char_p]),
    "obs_data_get_bool": (c_bool, [P, c_char_p]),
    "obs_data_item_byname": (P, [P, c_char_p]),
    "obs_data_item_gettype": (c_int, [P]),
    "obs_data_item_numtype": (c_int, [P]),
    "obs_data_item_release": (None, [POINTER(c_void_p)]),
    "obs_data_set_string": (None, [P, c_char_p, c_char_p]),
    "obs_data_set_int": (None, [P, c_char_p, c_int64]),
    "obs_data_set_bool": (None, [P, c_char_p, c_bool]),
    "obs_data_create": (P, []),
    "obs_source_update": (None, [P, P]),
    "obs_hotkey_register_source": (c_size_t, [P, c_char_p, c_char_p, P, P]),
    "obs_hotkey_unregister": (None, [c_size_t]),
    "obs_data_set_default_string": (None, [P, c_char_p, c_char_p]),
    "obs_data_set_default_int": (None, [P, c_char_p, c_int64]),
    "obs_data_set_default_double": (None, [P, c_char_p, c_double]),
    "obs_data_set_default_bool": (None, [P, c_char_p, c_bool]),
    "obs_properties_create": (P, []),
    "obs_properties_add_bool": (P, [P, c_char_p, c_char_p]),
    "obs_properties_add_int": (P, [P, c_char_p, c_char_p, c_int, c_int, c_int]),
    "obs_properties_add_float_slider": (P, [P, c_char_p, c_char_p, c_double, c_double, c_double]),
    "obs_properties_add_path": (P, [P, c_char_p, c_char_p, c_int, c_char_p, c_char_p]),
    "obs_properties_add_list": (P, [P, c_char_p, c_char_p, c_int, c_int]),
    "obs_properties_add_text": (P, [P, c_char_p, c_char_p, c_int]),
    "obs_properties_add_button2": (P, [P, c_char_p, c_char_p, P, P]),
    "obs_property_list_add_string": (c_size_t, [P, c_char_p, c_char_p]),
    "obs_property_set_long_description": (None, [P, c_char_p]),
    "obs_properties_add_editable_list": (P, [P, c_char_p, c_char_p, c_int, c_char_p, c_char_p]),
    "obs_property_set_modified_callback": (None, [P, P]),
    "obs_property_set_visible": (None, [P, c_bool]),
    "obs_properties_get": (P, [P, c_char_p]),
    "obs_data_get_array": (P, [P, c_char_p]),
    "obs_data_array_count": (c_size_t, [P]),
    "obs_data_array_item": (P, [P, c_size_t]),
    "obs_data_array_release": (None, [P]),
    "obs_enum_sources": (None, [P, P]),
    "obs_get_source_by_name": (P, [c_char_p]),
    "obs_source_release": (None, [P]),
    "obs_source_get_output_flags": (c_uint32, [P]),
    "obs_source_get_sync_offset": (c_int64, [P]),
    "obs_source_set_sync_offset": (None, [P, c_int64]),
    "obs_source_enabled": (c_bool, [P]),
    "obs_filter_get_parent": (P, [P]),
    "bfree": (None, [P]),
    "obs_enter_graphics": (None, []),
    "obs_leave_graphics": (None, []),
    "gs_texrender_destroy": (None, [P]),
    "gs_stagesurface_destroy": (None, [P]),
    "gs_texture_destroy": (None, [P]),
}

RENDER_FUNCTIONS = {
    "obs_filter_get_target": (P, [P]),
    "obs_filter_get_parent": (P, [P]),
    "obs_source_get_base_width": (c_uint32, [P]),
    "obs_source_get_base_height": (c_uint32, [P]),
    "obs_source_skip_video_filter": (None, [P]),
    "obs_source_get_output_flags": (c_uint32, [P]),
    "obs_source_enabled": (c_bool, [P]),
    "obs_get_frame_interval_ns": (ctypes.c_uint64, []),
    "obs_get_base_effect": (P, [c_int]),
    "gs_texrender_create": (P, [c_int, c_int]),
    "gs_texrender_reset": (None, [P]),
    "gs_texrender_begin": (c_bool, [P, c_uint32, c_uint32]),
    "gs_texrender_end": (None, [P]),
    "gs_texrender_get_texture": (P, [P]),
    "gs_stagesurface_create": (P, [c_uint32, c_uint32, c_int]),
    "gs_stagesurface_destroy": (None, [P]),
    "gs_stage_texture": (None, [P, P]),
    "gs_stagesurface_map": (c_bool, [P, POINTER(c_void_p), POINTER(c_uint32)]),
    "gs_stagesurface_unmap": (None, [P]),
    "gs_texture_create": (P, [c_uint32, c_uint32, c_int, c_uint32, P, c_uint32]),
    "gs_texture_destroy": (None, [P]),
    "gs_texture_set_image": (None, [P, P, c_uint32, c_bool]),
    "gs_effect_get_param_by_name": (P, [P, c_char_p]),
    "gs_effect_create_from_file": (P, [c_char_p, P]),
    "gs_effect_destroy": (None, [P]),
    "gs_effect_set_float": (None, [P, c_float]),
    "gs_get_linear_srgb": (c_bool, []),

    "gs_effect_set_texture": (None, [P, P]),
    "gs_effect_loop": (c_bool, [P, c_char_p]),
    "gs_draw_sprite": (None, [P, c_uint32, c_uint32, c_uint32]),
    "gs_ortho": (None, [c_float] * 6),
    "gs_clear": (None, [c_uint32, P, c_float, c_uint8]),
    "gs_blend_state_push": (None, []),
    "gs_blend_state_pop": (None, []),
    "gs_blend_function": (None, [c_int, c_int]),
}


# Variadic functions: their fixed arguments only (ctypes passes the rest as variadic).
VARIADIC_FUNCTIONS = {
    "blog": (None, [c_int, c_char_p]),
}
PROBE_SYMBOL = "obs_register_source_s"   # a libobs export: tells a handle that holds libobs


def library_name(platform: str = sys.platform) -> str:
    """libobs's file name, for a process that has not loaded it yet (tests, tools)."""
    if platform == "win32":
        return "obs.dll"
    if platform == "darwin":
        return "libobs.framework/libobs"
    return "libobs.so.0"


def loaded_libobs(platform: str = sys.platform, path: str | None = None):
    """A ctypes handle on the libobs this process runs with.

    `path` (or $OBS_FACESWAP_LIBOBS) names one explicitly. Otherwise: Windows, the module
    already loaded as obs.dll (GetModuleHandle, no second load); elsewhere the process's
    own symbols (dlopen(NULL)), which hold libobs in OBS and in anything that loaded it
    globally; only if neither has it, a load by name.
    """
    mode = getattr(ctypes, "RTLD_GLOBAL", 0)
    path = path or os.environ.get("OBS_FACESWAP_LIBOBS")
    if path:
        return ctypes.CDLL(path, mode=mode)
    name = library_name(platform)
    if platform == "win32":
        return windows_module(name) or ctypes.CDLL(name)
    process = ctypes.CDLL(None, mode=mode)
    if hasattr(process, PROBE_SYMBOL):
        return process
    return ctypes.CDLL(name, mode=mode)


class LibObs:
    """The two prototyped views of libobs plus logging."""

    def __init__(self, path: str | None = None, platform: str = sys.platform):
        blocking = loaded_libobs(platform, path)
        render = ctypes.PyDLL(blocking._name, handle=blocking._handle)   # the same library, GIL kept
        self.blocking = Functions(blocking, BLOCKING_FUNCTIONS)
        self.render = Functions(render, RENDER_FUNCTIONS)
        self.variadic = Functions(blocking, VARIADIC_FUNCTIONS)

    def log(self, level: int, message: str) -> None:
        """One line in OBS's log, prefixed with the product name."""
        self.variadic.blog(level, b"[obs-faceswap] %s", message.encode("utf-8", "replace"))
