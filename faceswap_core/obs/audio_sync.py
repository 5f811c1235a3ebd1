"""Keeps one audio source's sync offset equal to the delay the swap adds to the picture.

A streamer's lips must match their voice. When the swapped picture shows later than the
camera's own would, the microphone must be delayed by as much: OBS's per-source "Sync
Offset" does that. Peers make the streamer measure and type it in; here it follows the
filter's own figure (the latency of the frames it draws, in the output's timeline).

One thread per filter that follows a source, calling libobs only through the
GIL-releasing handle, ten times a second: the offset moves towards the smoothed latency
in steps of at most MAX_STEP_MS (a jump would skip or repeat audio), on top of whatever
offset the streamer had set (kept, and changes they make meanwhile are kept too), and
goes back to theirs when the filter is off, taken off its source, or destroyed.
"""

from __future__ import annotations

import ctypes
import threading

from . import libobs as L

STEP_EVERY_S = 0.1
MAX_STEP_MS = 10.0          # per step: 100 ms of offset per second at most
DEADBAND_MS = 1.5           # closer than this to the target: leave it
SMOOTHING = 0.5             # of each new reading (ten a second; each already a second's mean)
NS_PER_MS = 1_000_000
NONE = ""                   # the setting's value for "no source"
ENUM_SOURCES = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)


def audio_source_names(api) -> list[str]:
    """Names of the sources that carry audio (microphones, media, capture cards), for the
    property's list; called from the UI thread (get_properties)."""
    obs = api.blocking
    names: list[str] = []

    def visit(_param, source):
        try:
            if obs.obs_source_get_output_flags(source) & L.OBS_SOURCE_AUDIO:
                name = obs.obs_source_get_name(source)
                if name:
                    names.append(name.decode("utf-8", "replace"))
        except Exception:
            pass
        return True

    callback = ENUM_SOURCES(visit)
    obs.obs_enum_sources(callback, None)
    return sorted(set(names), key=str.casefold)


class AudioSync:
    """Follows `latency_ms()` on the source named by follow(), while `active()`."""

    def __init__(self, api, latency_ms, active):
        self.api = api
        self._latency_ms = latency_ms
        self._active = active
        self._wanted = NONE
        self._held: str = NONE        # the source whose offset we changed
        self._original_ns = 0         # its offset before us (the streamer's own)
        self._applied_ns = 0          # what we last set
        self._smoothed_ms = 0.0
        self.offset_ms = 0.0          # what we add now, for the status line
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def follow(self, name: str) -> None:
        """Keep `name`'s offset in sync from now on ('' for none); starts the thread once."""
        self._wanted = name or NONE
        with self._lock:
            if self._wanted and self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="obs-faceswap-audio-sync", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Give the offset back and end the thread (destroy, script unload)."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(2.0)
        self._release()

    def status(self) -> str:
        if not self._held:
            return ""
        total = (self._applied_ns) / NS_PER_MS
        return f"'{self._held}' delayed {self.offset_ms:.0f} ms (sync offset {total:.0f} ms)"

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(STEP_EVERY_S):
            try:
                self._step()
            except Exception as error:   # a bug must not end the thread silently nor spam
                self.api.log(L.LOG_WARNING, f"audio sync: {type(error).__name__}: {error}")
                self._stop.wait(5.0)

    def _step(self) -> None:
        if self._wanted != self._held:
            self._release()
            if self._wanted and not self._take(self._wanted):
                return
        if not self._held:
            return
        active = self._active()
        latency = max(0.0, self._latency_ms()) if active else 0.0
        self._smoothed_ms = latency if not active else (1 - SMOOTHING) * self._smoothed_ms + SMOOTHING * latency
        with _Source(self.api, self._held) as source:
            if source is None:
                self._held = NONE          # renamed or removed: its offset went with it
                return
            obs = self.api.blocking
            current = obs.obs_source_get_sync_offset(source)
            if current != self._applied_ns:   # the streamer changed it meanwhile: their new base
                self._original_ns += current - self._applied_ns
                self._applied_ns = current
            target = self._original_ns + round(self._smoothed_ms * NS_PER_MS)
            delta = target - current
            if delta == 0 or (active and abs(delta) < DEADBAND_MS * NS_PER_MS):
                return   # (inactive: back to the streamer's own offset exactly)
            step = max(-MAX_STEP_MS * NS_PER_MS, min(MAX_STEP_MS * NS_PER_MS, delta))
            self._applied_ns = int(current + step)
            obs.obs_source_set_sync_offset(source, self._applied_ns)
            self.offset_ms = (self._applied_ns - self._original_ns) / NS_PER_MS

    def _take(self, name: str) -> bool:
        with _Source(self.api, name) as source:
            if source is None:
                return False
            self._original_ns = self._applied_ns = self.api.blocking.obs_source_get_sync_offset(source)
        self._held = name
        self._smoothed_ms = 0.0
        self.offset_ms = 0.0
        return True

    def _release(self) -> None:
        held, self._held = self._held, NONE
        if not held:
            return
        with _Source(self.api, held) as source:
            if source is not None:
                current = self.api.blocking.obs_source_get_sync_offset(source)
                if current == self._applied_ns:     # else the streamer set one since: theirs stays
                    self.api.blocking.obs_source_set_sync_offset(source, self._original_ns)
        self.offset_ms = 0.0


class _Source:
    """A source looked up by name for one step, released after (a strong reference held
    longer would keep a source the streamer deleted alive)."""

    def __init__(self, api, name: str):
        self.api = api
        self.name = name
        self.source = None

    def __enter__(self):
        self.source = self.api.blocking.obs_get_source_by_name(self.name.encode("utf-8")) or None
        return self.source

    def __exit__(self, *exc):
        if self.source:
            self.api.blocking.obs_source_release(self.source)
        return False
