"""Content credentials on OBS's recordings: when a recording that showed a face swap stops,
`faceswap sign FILE` runs in the worker's Python (never inside OBS, never waited on).

OBS tells a script about recordings through its frontend API (libobs-frontend-api, which
OBS itself has loaded): an event callback, and obs_frontend_get_last_recording() for the
file's path. A process without the frontend (a bare libobs host) has nothing to sign.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading

from ..link import launch
from ..link import system as systems
from . import libobs as L
from .properties import PROJECT_ROOT, default_interpreter

RECORDING_STARTED = 5        # enum obs_frontend_event (frontend/api/obs-frontend-api.h)
RECORDING_STOPPED = 7
EVENT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)
SIGN_TIMEOUT_S = 600


def frontend_library(platform: str = sys.platform):
    """The frontend API OBS has loaded, or None (a libobs host, an OBS without it)."""
    names = {"win32": "obs-frontend-api.dll", "darwin": "obs-frontend-api.dylib"}
    try:
        if platform == "win32":
            handle = ctypes.WinDLL("kernel32").GetModuleHandleW(names["win32"])
            library = ctypes.CDLL(names["win32"], handle=handle) if handle else None
        else:
            library = ctypes.CDLL(None)
        if library is None or not hasattr(library, "obs_frontend_add_event_callback"):
            return None
    except OSError:
        return None
    library.obs_frontend_add_event_callback.argtypes = [EVENT_CALLBACK, ctypes.c_void_p]
    library.obs_frontend_add_event_callback.restype = None
    library.obs_frontend_remove_event_callback.argtypes = [EVENT_CALLBACK, ctypes.c_void_p]
    library.obs_frontend_remove_event_callback.restype = None
    library.obs_frontend_get_last_recording.argtypes = []
    library.obs_frontend_get_last_recording.restype = ctypes.c_void_p
    return library


class RecordingSigner:
    """Watches recordings; signs each one during which a Face Swap filter was swapping."""

    def __init__(self, api: L.LibObs, registry, system: str = systems.CURRENT):
        self.api = api
        self.registry = registry
        self.system = system
        self.frontend = frontend_library()
        self._callback = EVENT_CALLBACK(self._on_event)   # kept alive while registered
        self._registered = False
        self._swapped = False        # a filter swapped while this recording ran
        self.last_outcome = ""       # the last signing's result, for tests and the log

    def start(self) -> None:
        if self.frontend is not None and not self._registered:
            self.frontend.obs_frontend_add_event_callback(self._callback, None)
            self._registered = True

    def stop(self) -> None:
        if self._registered:
            self.frontend.obs_frontend_remove_event_callback(self._callback, None)
            self._registered = False

    def _active_filters(self) -> list:
        return [instance for instance in list(self.registry.instances.values()) if instance.swap_active()]

    def _on_event(self, event: int, _private) -> None:
        try:
            if event == RECORDING_STARTED:
                self._swapped = bool(self._active_filters())
            elif event == RECORDING_STOPPED:
                active = self._active_filters()
                if self._swapped or active:
                    self._sign(self._last_recording(), active)
                self._swapped = False
        except Exception as error:    # never into OBS
            self.api.log(L.LOG_WARNING, f"recording signing: {type(error).__name__}: {error}")

    def _last_recording(self) -> str:
        pointer = self.frontend.obs_frontend_get_last_recording()
        if not pointer:
            return ""
        try:
            return ctypes.string_at(pointer).decode("utf-8", "replace")
        finally:
            self.api.blocking.bfree(pointer)

    def _sign(self, path: str, active: list) -> None:
        if not path:
            return
        filters = active or list(self.registry.instances.values())
        settings = filters[0].settings if filters else {}
        if not settings.get("credentials", True):
            return
        interpreter = settings.get("python") or default_interpreter()
        arguments = ["sign", path]
        if settings.get("source_photo"):
            arguments += ["--photo", settings["source_photo"]]
        command, options = launch.tool_command(self.system, interpreter, arguments, PROJECT_ROOT)
        threading.Thread(target=self._run, args=(command, options, path), name="faceswap-sign",
                         daemon=True).start()

    def _run(self, command: list, options: dict, path: str) -> None:
        """Off OBS's threads: the signing's outcome goes into OBS's log."""
        name = os.path.basename(path)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=SIGN_TIMEOUT_S, cwd=PROJECT_ROOT,
                                  env=launch.worker_environment(self.system, dict(os.environ), PROJECT_ROOT),
                                  stdin=subprocess.DEVNULL, **options)
            said = (done.stdout + done.stderr).strip().splitlines()
            self.last_outcome = said[-1] if said else f"exit {done.returncode}"
        except (OSError, subprocess.TimeoutExpired) as error:
            self.last_outcome = f"could not run faceswap sign: {error}"
        self.api.log(L.LOG_INFO, f"recording {name}: {self.last_outcome}")
