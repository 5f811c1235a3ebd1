"""Content credentials on OBS's recordings: when a recording that showed a face swap stops,
`faceswap sign FILE` runs in the worker's Python (never inside OBS, never waited on).

OBS tells a script about recordings through its frontend API (frontend.py): the events,
and obs_frontend_get_last_recording() for the file's path.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading

from .. import schema
from ..link import launch
from ..link import system as systems
from . import frontend
from . import libobs as L
from ..link.launch import PROJECT_ROOT

SIGN_TIMEOUT_S = 600


class RecordingSigner:
    """Watches recordings; signs each one during which a Face Swap filter was swapping."""

    def __init__(self, api: L.LibObs, registry, library, system: str = systems.CURRENT):
        self.api = api
        self.registry = registry
        self.library = library        # frontend.frontend_library()
        self.system = system
        self._swapped = False        # a filter swapped while this recording ran
        self.last_outcome = ""       # the last signing's result, for tests and the log

    def _active_filters(self) -> list:
        return [instance for instance in list(self.registry.instances.values()) if instance.swap_active()]

    def on_event(self, event: int) -> None:
        if event == frontend.RECORDING_STARTED:
            self._swapped = bool(self._active_filters())
        elif event == frontend.RECORDING_STOPPED:
            active = self._active_filters()
            if self._swapped or active:
                self._sign(self._last_recording(), active)
            self._swapped = False

    def _last_recording(self) -> str:
        pointer = self.library.obs_frontend_get_last_recording()
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
        interpreter = settings.get("python") or launch.worker_interpreter(self.system)
        arguments = ["sign", path]
        if settings.get("source_photo"):
            arguments += ["--photo", settings["source_photo"]]
        if settings.get("credential_names"):
            arguments.append(schema.BY_KEY["credential_names"].flag)
        if settings.get("sign_cert") or settings.get("sign_key"):
            arguments += ["--sign-cert", settings.get("sign_cert", ""), "--sign-key", settings.get("sign_key", "")]
        command, options = launch.tool_command(self.system, interpreter, arguments, PROJECT_ROOT)
        threading.Thread(target=self._run, args=(command, options, path), name="faceswap-sign",
                         daemon=True).start()

    def _run(self, command: list, options: dict, path: str) -> None:
        """Off OBS's threads: the signing's outcome goes into OBS's log."""
        name = os.path.basename(path)
        try:
            # the tool writes UTF-8 (PYTHONUTF8 on Windows): never this process's code page
            done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace",
                                  timeout=SIGN_TIMEOUT_S, cwd=PROJECT_ROOT,
                                  env=launch.worker_environment(self.system, dict(os.environ), PROJECT_ROOT),
                                  stdin=subprocess.DEVNULL, **options)
            said = (done.stdout + done.stderr).strip().splitlines()
            self.last_outcome = said[-1] if said else f"exit {done.returncode}"
        except (OSError, subprocess.TimeoutExpired) as error:
            self.last_outcome = f"could not run faceswap sign: {error}"
        self.api.log(L.LOG_INFO, f"recording {name}: {self.last_outcome}")
