"""One "Face Swap" filter instance: its settings, its worker, its two frame paths, its status.

Two paths, chosen per frame by what libobs offers: an async source's frames (webcam,
capture card, media file) come through filter_video in system memory (camera.py: no
read-back, answered in the same output frame); everything else is read back from the GPU
in video_render (render.py). While the camera path takes the frames, video_render draws
the parent untouched, which is then the swapped frame.
"""

from __future__ import annotations

import threading
import time

from .. import link
from ..link import pixel_formats
from . import libobs as L
from . import properties
from .audio_sync import AudioSync
from .camera import CameraFrames
from . import hotkeys
from .render import FrameRenderer
from .supervisor import WorkerSupervisor


# After filter_remove, libobs clears the filter's parent with no lock against a render in
# progress; a render that asks libobs to draw the parent then reads NULL and crashes OBS.
# Renders draw nothing until the removal is surely over (or the filter was put back).
REMOVAL_SETTLE_S = 0.25
# A fade-out is drawn this much longer than it lasts: the worker's answers come a few
# frames after the camera's (the latency), the last of the fade among them.
FADE_MARGIN_S = 0.3


class FaceSwapFilter:
    """What libobs's `data` pointer stands for (the registry maps it to this object)."""

    def __init__(self, api, source, settings_data, active: bool, tick_budget=None, mark_words: str = ""):
        self.api = api
        self.source = source
        self.mark_words = mark_words   # the status line's words for the program picture's mark
        self.ignored_settings: list[str] = []
        self.settings = properties.read_settings(api, settings_data, self.ignored_settings)
        self.renderer = FrameRenderer(api)
        self.camera = CameraFrames(api, tick_budget)
        self.audio_sync = AudioSync(api, self.viewer_latency_ms, self._audio_follows)
        self.supervisor: WorkerSupervisor | None = None
        self.render_failed = False
        self._render_lock = threading.Lock()   # held by each render; filter_remove waits for it
        self._removed_at = 0.0                 # monotonic time of the last filter_remove, 0 if none
        self._logged_path = ""
        self._fading_out_until = 0.0           # monotonic time the swap's fade-out ends (swap turned off)
        self.hotkeys: dict = {}                # hotkey id -> hotkeys.Hotkey, on the source the filter sits on
        self.hotkey_callback = None            # (the registry's callback, this filter's key)
        self._hotkeys_on = None                # the source they are registered on
        if active:
            self.start_worker()

    # -- lifetime ------------------------------------------------------------------
    def start_worker(self) -> None:
        if self.supervisor is None:
            self.supervisor = WorkerSupervisor(self.worker_settings(), log=self.api.log)
        self.audio_sync.follow(self.settings.get("sync_audio", ""))

    def stop_worker(self) -> None:
        self.audio_sync.stop()   # the offset goes back with the swap (script unloaded, filter destroyed)
        supervisor, self.supervisor = self.supervisor, None
        if supervisor is not None:
            supervisor.stop()

    def destroy(self) -> None:
        self._drop_hotkeys()
        self.renderer.destroy()   # first: drops its mapping, so the channel can go at once
        self.camera.release()
        self.stop_worker()

    @property
    def frames(self):
        """The path frames take now: camera (filter_video) or renderer (video_render)."""
        return self.camera if self.camera.in_use else self.renderer

    def viewer_latency_ms(self) -> float:
        """How much later than the camera's own the picture shows: the latency of the swapped
        frames being drawn, 0 while originals are (nothing delays them)."""
        frames = self.frames
        return frames.recent_latency_ms() if frames.has_result else 0.0

    def worker_settings(self) -> dict:
        """What the worker gets: the settings, but the mark off, since in OBS it goes on the
        program picture (program_mark.py); one on the camera too would land on it scaled
        and shifted, a second pattern that only blurs the first."""
        return {**self.settings, "mark": False}

    def swap_active(self) -> bool:
        """The swap is on: a worker runs, the filter and its swap are enabled."""
        supervisor = self.supervisor
        return bool(supervisor is not None and supervisor.worker_up and self.swapping()
                    and not self.render_failed and self.api.blocking.obs_source_enabled(self.source))

    def _audio_follows(self) -> bool:
        """The audio sync thread: whether the swap is on and this filter sits on a source."""
        return self.swap_active() and bool(self.api.blocking.obs_filter_get_parent(self.source))

    def path_name(self) -> str:
        if self.camera.in_use:
            return f"camera path ({pixel_formats.name(self.camera.format)} frames)"
        return "GPU read-back path"

    # -- OBS callbacks ------------------------------------------------------------------
    def swapping(self) -> bool:
        """The swap is on, or fading out: the worker fades to the camera's own picture, so
        its frames are drawn until the fade is over."""
        return self.settings.get("enabled", True) or time.monotonic() < self._fading_out_until

    def _follow_enabled(self, settings: dict) -> None:
        fade_ms = settings.get("switch_fade_ms", 0)
        if fade_ms and self.settings.get("enabled", True) and not settings.get("enabled", True):
            self._fading_out_until = time.monotonic() + FADE_MARGIN_S + fade_ms / 1e3

    def update(self, settings_data) -> None:
        ignored: list[str] = []
        settings = properties.read_settings(self.api, settings_data, ignored)
        self._follow_enabled(settings)
        self.settings = settings
        self.ignored_settings = ignored
        supervisor = self.supervisor
        if supervisor is not None:
            supervisor.publish_settings(self.worker_settings())
            self.audio_sync.follow(self.settings.get("sync_audio", ""))

    def press(self, hotkey) -> None:
        """A hotkey: the settings it changes go in as the dialog's would (obs_source_update
        calls update, which hands them to the worker, and they are saved with the scene)."""
        if hotkey is None:
            return
        changes = hotkeys.pressed(hotkey, self.settings)
        if not changes:
            return
        # at once, not on the next video tick (when libobs calls update): a second press
        # before it (a Stream Deck macro) goes on from this one
        settings = {**self.settings, **changes}
        self._follow_enabled(settings)
        self.settings = settings
        obs = self.api.blocking
        data = obs.obs_data_create()
        try:
            for key, value in changes.items():
                if isinstance(value, bool):
                    obs.obs_data_set_bool(data, key.encode(), value)
                else:
                    obs.obs_data_set_int(data, key.encode(), int(value))
            obs.obs_source_update(self.source, data)
        finally:
            obs.obs_data_release(data)

    def follow_parent(self) -> None:
        """Keep the hotkeys on the source the filter sits on (see hotkeys.py): registered
        once it sits on one, moved when it moves. Cheap when nothing changed (video_tick,
        every frame; OBS 30 has a filter_add callback, OBS 29 not)."""
        parent = self.api.render.obs_filter_get_parent(self.source)   # the graphics thread's handle
        if parent == self._hotkeys_on or self.hotkey_callback is None or self._removed_at:
            return
        self._drop_hotkeys()
        if parent:
            name = (self.api.blocking.obs_source_get_name(self.source) or b"Face Swap").decode("utf-8", "replace")
            callback, key = self.hotkey_callback
            self.hotkeys = hotkeys.register(self.api, parent, name, callback, key)
        self._hotkeys_on = parent

    def _drop_hotkeys(self) -> None:
        ids, self.hotkeys, self._hotkeys_on = self.hotkeys, {}, None
        hotkeys.unregister(self.api, ids)

    def removing(self) -> None:
        """filter_remove (OBS's UI thread): wait for a render in progress to finish, then
        keep renders from touching the parent while libobs clears it; the hotkeys go with
        the filter."""
        with self._render_lock:
            self._removed_at = time.monotonic()
            self._drop_hotkeys()
            self.camera.in_use = False   # on its next source, the path is chosen anew (an image takes no filter_video)

    def render(self) -> None:
        with self._render_lock:
            if self._removed_at:
                if time.monotonic() - self._removed_at < REMOVAL_SETTLE_S:
                    return                  # being taken off its source: draw nothing
                self._removed_at = 0.0      # put back on a source since: render again
            try:
                self._render()
            except Exception:
                # A bug must not take OBS down or spam the log each frame: pass through from now on.
                self.render_failed = True
                try:
                    self.renderer.pass_through(self.source)
                except Exception:
                    pass            # the first error is the one to report
                raise

    def filter_video(self, frame_address: int) -> int:
        """An async source's frame, on the graphics thread: swapped in place when the camera
        path applies, else left for video_render."""
        supervisor = self.supervisor
        if self.render_failed or self._removed_at or supervisor is None or not self.swapping():
            if supervisor is None:
                self.camera.release()
            return frame_address
        try:
            frame = self.camera.filter(self.source, frame_address, supervisor)
        except Exception:
            self.render_failed = True   # as in render(): pass through from now on, one report
            raise
        self._log_path()
        return frame

    def _log_path(self) -> None:
        """One line in OBS's log whenever the frames change path (support reads it)."""
        name = self.path_name()
        if name != self._logged_path:
            self._logged_path = name
            obs = self.api.blocking
            parent = obs.obs_filter_get_parent(self.source)
            source_name = (obs.obs_source_get_name(parent) if parent else None) or b"?"
            self.api.log(L.LOG_INFO, f"'{source_name.decode('utf-8', 'replace')}': frames take the {name}")

    def _render(self) -> None:
        supervisor = self.supervisor
        if self.camera.in_use:
            self.renderer.binding = None        # the camera path swaps; what the parent draws is the result
            self.renderer.pass_through(self.source)
            return
        if self.render_failed or supervisor is None or not self.swapping():
            if supervisor is None:
                self.renderer.binding = None   # let the stopped channel's mapping go
            self.renderer.pass_through(self.source)
            return
        self.renderer.render(self.source, supervisor)
        if self.renderer.has_result:
            self._log_path()

    # -- status line ------------------------------------------------------------------------
    def status_text(self) -> str:
        """One line: worker state, speed, latency, tips about the photo, last error."""
        try:
            return self._status_text()
        except (TypeError, ValueError, AttributeError):   # the channel closed under us
            return "Status unavailable right now; press Refresh status."

    def _status_text(self) -> str:
        supervisor = self.supervisor
        if self.render_failed:
            return "Stopped after a rendering error (see the OBS log); re-add the filter."
        if supervisor is None:
            return "Stopped: the obs_faceswap.py script is not loaded."
        if not self.settings.get("enabled", True):
            return "Swap disabled: the camera passes through."
        channel = supervisor.channel
        state = channel.state() if channel is not None and channel.mm is not None else link.STATE_STOPPED
        parts = []
        if supervisor.worker_up:
            parts.append(link.STATE_NAMES.get(state, "unknown"))
        elif supervisor.next_start_at:
            wait = max(0.0, supervisor.next_start_at - time.monotonic())
            parts.append(f"worker down, restarting in {wait:.1f} s")
        else:
            parts.append("worker starting")
        if supervisor.worker_up and state == link.STATE_RUNNING and channel is not None:
            parts.append(f"{channel.fps():.1f} fps")
            frames = self.frames
            parts.append(f"latency {self.viewer_latency_ms():.0f} ms")
            if frames is self.camera:
                parts.append(f"waits {self.camera.wait_ms:.0f} ms per frame")
            parts.append(self.path_name())
            parts.append(f"{channel.faces()} face(s)")
            note = channel.note()   # the worker's: what runs, how the source was made, photo tips
            if note:
                parts.append(note)
            if self.settings.get("mark", True) and self.mark_words:
                parts.append(self.mark_words)
        if supervisor.start_note:
            parts.append(supervisor.start_note)
        audio = self.audio_sync.status()
        if audio:
            parts.append(audio)
        error = (channel.error() if channel is not None and channel.mm is not None else "") or supervisor.last_error
        if error:
            parts.append(f"last error: {error}")
        if self.ignored_settings:
            parts.append(f"unreadable saved settings, defaults used: {', '.join(sorted(set(self.ignored_settings)))}")
        return " | ".join(parts)
