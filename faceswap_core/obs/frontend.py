"""OBS's frontend API (libobs-frontend-api, which OBS itself has loaded): its events and the
few calls the script needs, through ctypes. A process without the frontend (a bare libobs
host in tests) has none, and every caller copes with that.
"""

from __future__ import annotations

import ctypes
import sys

from . import libobs as L
from .foreign import windows_module

# enum obs_frontend_event (frontend/api/obs-frontend-api.h; the same numbers in OBS 28-32)
STREAMING_STARTING = 0
RECORDING_STARTING = 4
RECORDING_STARTED = 5
RECORDING_STOPPED = 7
SCENE_CHANGED = 8
SCENE_LIST_CHANGED = 9
SCENE_COLLECTION_CHANGED = 13
FINISHED_LOADING = 26
EVENT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)
P = ctypes.c_void_p
FUNCTIONS = {
    "obs_frontend_add_event_callback": (None, [EVENT_CALLBACK, P]),
    "obs_frontend_remove_event_callback": (None, [EVENT_CALLBACK, P]),
    "obs_frontend_get_last_recording": (P, []),            # bstrdup'd: bfree it
    "obs_frontend_get_current_scene": (P, []),              # a new reference: release it
}


def frontend_library(platform: str = sys.platform):
    """The frontend API OBS has loaded, prototyped, or None."""
    try:
        if platform == "win32":
            library = windows_module("obs-frontend-api.dll")
        else:
            library = ctypes.CDLL(None)
        if library is None or not hasattr(library, "obs_frontend_add_event_callback"):
            return None
        return L.Functions(library, FUNCTIONS)
    except (OSError, AttributeError):
        return None


class FrontendEvents:
    """One event callback for the script; each event goes to every handler's on_event.
    Runs on OBS's UI thread: handlers do little and never wait."""

    def __init__(self, api: L.LibObs, library, handlers: list):
        self.api = api
        self.library = library        # frontend_library(); None: no events ever come
        self.handlers = handlers
        self._callback = EVENT_CALLBACK(self._on_event)   # kept alive while registered
        self._registered = False

    def start(self) -> None:
        if self.library is not None and not self._registered:
            self.library.obs_frontend_add_event_callback(self._callback, None)
            self._registered = True

    def stop(self) -> None:
        if self._registered:
            self.library.obs_frontend_remove_event_callback(self._callback, None)
            self._registered = False

    def _on_event(self, event: int, _private) -> None:
        for handler in self.handlers:
            try:
                handler.on_event(event)
            except Exception as error:    # never into OBS
                self.api.log(L.LOG_WARNING, f"{type(handler).__name__}: {type(error).__name__}: {error}")
