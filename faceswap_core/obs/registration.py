"""Registers the "Face Swap" filter type with libobs and routes its callbacks.

libobs keeps pointers to the callbacks, the obs_source_info struct and its strings for
the life of the process, and a source type cannot be unregistered. So everything it
points at lives in one FilterRegistry, created once per process and kept by this module
(the one piece of module-level state; script reloads find it again). A reload asks
libobs whether the type exists and reuses it instead of registering twice.
"""

from __future__ import annotations

import ctypes
import threading
import traceback

from . import libobs as L
from . import audio_sync, hotkeys, properties
from . import source_info as si
from .camera import TickBudget
from .filter import FaceSwapFilter

FILTER_ID = b"obs_faceswap_filter"
DISPLAY_NAME = b"Face Swap"


class FilterRegistry:
    """The callbacks, the struct and the live filter instances (by small integer key)."""

    def __init__(self, api: L.LibObs):
        self.api = api
        self.instances: dict[int, FaceSwapFilter] = {}
        self.tick_budget = TickBudget()   # the camera path's waits, shared: all on the graphics thread
        self._next_key = 1
        self._key_lock = threading.Lock()
        self.active = False          # True between script_load and script_unload
        self._name = ctypes.create_string_buffer(DISPLAY_NAME)
        self._id = ctypes.create_string_buffer(FILTER_ID)
        self.callbacks = {
            "get_name": si.GET_NAME(self._get_name),
            "create": si.CREATE(self._create),
            "destroy": si.DESTROY(self._destroy),
            "get_defaults": si.GET_DEFAULTS(self._get_defaults),
            "get_properties": si.GET_PROPERTIES(self._get_properties),
            "update": si.UPDATE(self._update),
            "video_render": si.VIDEO_RENDER(self._video_render),
            "filter_video": si.FILTER_VIDEO(self._filter_video),
            "filter_remove": si.FILTER_REMOVE(self._filter_remove),
            "video_tick": si.VIDEO_TICK(self._video_tick),
            "refresh": si.BUTTON_CLICKED(self._refresh_clicked),
            "modified": si.PROPERTY_MODIFIED(self._settings_modified),
            "hotkey": hotkeys.HOTKEY_FUNC(self._hotkey),
        }
        self.info, self.info_buffer = si.video_filter_info(
            self._id, {name: self.callbacks[name] for name in ("get_name", "create", "destroy", "get_defaults",
                                                                "get_properties", "update", "video_tick",
                                                                "video_render", "filter_video", "filter_remove")})
        self.registered = False
        from .program_mark import ProgramMarks
        self.marks = ProgramMarks(api, self)     # the "Face Swap Mark" filter type (program picture)
        self.events = None            # FrontendEvents while the script is loaded

    # -- script lifetime ------------------------------------------------------------------
    def register(self) -> bool:
        """Register once per process; True if this call registered it."""
        self.marks.register()
        if self.registered:
            return False
        self.registered = True
        if not si.register_once(self.api, FILTER_ID, self.info, self.info_buffer):
            return False
        self.api.log(L.LOG_INFO, "registered the Face Swap filter")
        return True

    def activate(self) -> None:
        """script_load: (re)start the workers of filters that already exist."""
        self.active = True
        for instance in list(self.instances.values()):
            instance.start_worker()
        if self.events is None:
            from .frontend import FrontendEvents, frontend_library
            from .recordings import RecordingSigner
            library = frontend_library()
            self.marks.library = library
            self.events = FrontendEvents(self.api, library, [RecordingSigner(self.api, self, library), self.marks])
        self.events.start()
        self.marks.follow_program()
        self.marks.start()

    def deactivate(self) -> None:
        """script_unload: stop every worker; the filters pass frames through until reload."""
        self.active = False
        if self.events is not None:
            self.events.stop()
        self.marks.stop()
        for instance in list(self.instances.values()):
            instance.stop_worker()

    # -- callbacks (exceptions never reach libobs) -------------------------------------------
    def _get_name(self, type_data):
        return ctypes.addressof(self._name)

    def _create(self, settings, source):
        try:
            instance = FaceSwapFilter(self.api, source, settings, self.active, self.tick_budget,
                                      self.marks.describe())
        except Exception:
            self._report("create")
            return None
        with self._key_lock:
            key = self._next_key
            self._next_key += 1
        self.instances[key] = instance
        instance.hotkey_callback = (self.callbacks["hotkey"], key)
        return key

    def _destroy(self, key):
        instance = self.instances.pop(key or 0, None)
        if instance is not None:
            try:
                instance.destroy()
            except Exception:
                self._report("destroy")

    def _get_defaults(self, settings):
        try:
            properties.apply_defaults(self.api, settings)
        except Exception:
            self._report("get_defaults")

    def _get_properties(self, key):
        try:
            instance = self.instances.get(key or 0)
            if instance is not None:
                self._write_status(instance)
            return properties.build_properties(self.api, self.callbacks["refresh"], key,
                                               audio_sync.audio_source_names(self.api), self.callbacks["modified"])
        except Exception:
            self._report("get_properties")
            return self.api.blocking.obs_properties_create()

    def _update(self, key, settings):
        instance = self.instances.get(key or 0)
        if instance is not None:
            try:
                instance.update(settings)
            except Exception:
                self._report("update")

    def _video_tick(self, key, seconds):
        """Every frame, for every source, shown or not (graphics thread): the filter's hotkeys
        follow its parent here, so that a camera in a scene not on screen keeps them (and
        the bindings the scene collection saves with it)."""
        instance = self.instances.get(key or 0)
        if instance is None:
            return
        try:
            instance.follow_parent()
        except Exception:
            self._report("video_tick")

    def _video_render(self, key, effect):
        instance = self.instances.get(key or 0)
        if instance is None:
            return
        try:
            instance.render()
        except Exception:
            self._report("video_render")

    def _filter_video(self, key, frame):
        """An async source's frame (graphics thread); whatever happens, a frame goes back:
        NULL would drop it."""
        instance = self.instances.get(key or 0)
        if instance is None or not frame:
            return frame
        try:
            return instance.filter_video(frame)
        except Exception:
            self._report("filter_video")
            return frame

    def _filter_remove(self, key, parent):
        instance = self.instances.get(key or 0)
        if instance is not None:
            try:
                instance.removing()
            except Exception:
                self._report("filter_remove")

    def _hotkey(self, key, hotkey_id, hotkey, pressed):
        """A hotkey of a filter pressed (or released: nothing happens then)."""
        instance = self.instances.get(key or 0)
        if instance is None or not pressed:
            return
        try:
            instance.press(instance.hotkeys.get(hotkey_id))
        except Exception:
            self._report("hotkey")

    def _refresh_clicked(self, props, prop, key):
        instance = self.instances.get(key or 0)
        if instance is not None:
            self._write_status(instance)
        return True

    def _settings_modified(self, props, prop, data):
        """A setting that shows or hides others changed (or the dialog opened): True asks
        OBS to redraw the dialog."""
        try:
            properties.show_applicable(self.api, props, data)
        except Exception:
            self._report("property modified")
        return True

    # -- helpers ---------------------------------------------------------------------------------
    def _write_status(self, instance: FaceSwapFilter) -> None:
        """Put the status line into the source's settings, where the read-only field shows it."""
        obs = self.api.blocking
        data = obs.obs_source_get_settings(instance.source)
        if data:
            obs.obs_data_set_string(data, properties.STATUS_KEY.encode(), instance.status_text().encode("utf-8", "replace"))
            obs.obs_data_release(data)

    def _report(self, where: str) -> None:
        self.api.log(L.LOG_ERROR, f"error in {where}: {traceback.format_exc()}")


_REGISTRY: FilterRegistry | None = None


def registry() -> FilterRegistry:
    """The process's one registry (created on first use; survives script reloads)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = FilterRegistry(L.LibObs())
    return _REGISTRY
