"""filter_video for one filter instance: the camera path, for async sources.

Webcams, capture cards and media sources deliver frames in system memory (NV12, I420,
YUY2, ...). libobs hands each one to filter_video right before it is uploaded and drawn:
in `async_tick`, on the graphics thread, with the source's async and filter mutexes held
(libobs/obs-source.c, OBS 29 to 32). So this path copies the frame's planes into the
channel at once (no GPU read-back, no staging), and waits for the worker's answer *to this
very frame* up to a budget, a share of the frame interval: the swapped frame then shows
in the same output frame as the original would have, and the stream's timeline carries no
delay at all. The wait is idle (the GIL released, the worker runs) and bounded, so OBS
keeps its frame rate, and it happens only when the worker's own recent time says the
answer can come within the budget. Otherwise, or when the budget runs out, the newest
finished answer (an earlier frame, swapped) is pasted at once, never the unswapped face.

Latency here is what the viewer's timeline sees: 0 for a frame answered in time, the age
of the frame shown when an earlier answer stands in. That is what audio must follow.
"""

from __future__ import annotations

import collections
import ctypes
import time
from ctypes import c_bool, c_float, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p

from .. import link
from ..link import liveness, pixel_formats
from . import libobs as L
from . import frame_path
from .frame_path import FramePath

WAIT_SHARE = 0.6              # of the frame interval: the most the filters wait in one tick
NEW_TICK_SHARE = 0.75         # a filter_video this long after the tick's first belongs to the next tick
POLL_S = 0.0005               # sleep between looks at the channel while waiting
WORKER_TIME_MARGIN = 1.15     # the worker's frame time, padded: is waiting for its answer worth it?
WORKER_TIMES = 5              # the worker's recent frame times, the quickest of which says whether to wait
GAP_S = 0.5                   # no frame for this long: frames stopped (source hidden, filter off)
MAX_FILTER_HOPS = 64          # a filter chain longer than this is not walked (a cycle would be a libobs bug)


class ObsSourceFrame(ctypes.Structure):
    """struct obs_source_frame (libobs/obs.h), the prefix this path reads; unchanged 29-32."""
    _fields_ = [
        ("data", c_void_p * 8),
        ("linesize", c_uint32 * 8),
        ("width", c_uint32),
        ("height", c_uint32),
        ("timestamp", c_uint64),
        ("format", ctypes.c_int),
        ("color_matrix", c_float * 16),
        ("full_range", c_bool),
        ("max_luminance", c_uint16),
        ("color_range_min", c_float * 3),
        ("color_range_max", c_float * 3),
        ("flip", c_bool),
        ("flags", c_uint8),
        ("trc", c_uint8),
    ]


def camera_path_possible(gs, filter_source) -> bool:
    """True when this filter's input is the async parent's own frame: the parent is async
    and every enabled filter applied before ours is an async one too. An effect filter
    before ours (colour correction, crop, a shader) draws on the GPU after all async
    filters ran, so the swap must see what it drew: the render path."""
    parent = gs.obs_filter_get_parent(filter_source)
    if not parent or not gs.obs_source_get_output_flags(parent) & L.OBS_SOURCE_ASYNC:
        return False
    target = gs.obs_filter_get_target(filter_source)
    for _ in range(MAX_FILTER_HOPS):
        if not target or target == parent:
            return True
        if gs.obs_source_enabled(target) and not gs.obs_source_get_output_flags(target) & L.OBS_SOURCE_ASYNC:
            return False
        target = gs.obs_filter_get_target(target)
    return False


class TickBudget:
    """The wait allowed on the graphics thread in one video tick, shared by every Face Swap
    filter of the process: eight cameras with a filter each wait, all together, no longer
    than one would (libobs ticks them one after another on the same thread)."""

    def __init__(self):
        self.tick_started = 0.0
        self.deadline_at = 0.0

    def deadline(self, now: float, interval_s: float) -> float:
        if now - self.tick_started > interval_s * NEW_TICK_SHARE:
            self.tick_started = now
            self.deadline_at = now + interval_s * WAIT_SHARE
        return self.deadline_at


class CameraFrames(FramePath):
    """The channel exchange for frames that libobs passes to filter_video."""

    def __init__(self, api: L.LibObs, budget: TickBudget | None = None):
        self.gs = api.render
        self.budget = budget or TickBudget()
        self.in_use = False            # the last frame came this way (video_render then passes through)
        self.format = 0                # the last frame's pixel format
        self.size = (0, 0)
        self.binding: link.Binding | None = None
        self.held = None               # the newest answer, copied out of the slot: (buffer, geometry, time)
        self.seen_seq = 0
        self.has_result = False
        self.results_drawn = 0         # frames returned swapped (their own answer or an earlier one)
        self.own_results = 0           # ... with their own answer, in time
        self.late = 0                  # ... with an earlier answer, theirs being late
        self.unwaited = 0              # frames handed over to an idle worker, not waited for: its time said too late
        self.worker_times = collections.deque(maxlen=WORKER_TIMES)   # seconds, of the answers collected
        self.frames_sent = 0
        self.handed_at = 0.0           # perf_counter of the last hand-over
        self.last_call = 0.0           # perf_counter of the last frame that took this path
        self.draws = {"result": 0, "original": 0, "nothing": 0}
        self.latency_ms = 0.0
        self.latencies_ms = collections.deque(maxlen=frame_path.LATENCY_SAMPLES)
        self.wait_ms = 0.0             # the last frame's wait for its answer (graphics thread, idle)
        self.work_ms = 0.0             # the last frame's copies and checks (graphics thread, busy)
        self.render_ms = 0.0

    # -- the callback body ------------------------------------------------------------------
    def filter(self, source, frame_address: int, supervisor) -> int:
        """The frame to show instead of `frame_address` (always the same frame, changed in place)."""
        started = time.perf_counter()
        frame = ObsSourceFrame.from_address(frame_address)
        self.format = frame.format
        if (frame.format not in pixel_formats.SUPPORTED or frame.flip
                or not camera_path_possible(self.gs, source)):
            # the render path reads it back from the GPU instead: other formats; frames
            # stored upside down (OBS flips them as it draws; the faces in them are upside down)
            self.in_use = False
            return frame_address
        self.in_use = True
        if started - self.last_call > GAP_S:
            # frames stopped a while (a scene switched away, the filter off): the newest answer
            # still stands in until this frame's own comes (the camera's frame would show the
            # streamer's unswapped face), counting no latency (_note_latency)
            self.resumed_ns = liveness.now_ns()
        self.last_call = started
        geometry = self._geometry(frame)
        self.size = (frame.width, frame.height)
        if not (supervisor.worker_up and self._bind(supervisor)
                and self.binding.exchange.state() == link.STATE_RUNNING):
            self._forget()
            self.draws["original"] += 1
            return frame_address
        if pixel_formats.frame_bytes(*geometry) > self.binding.capacity:
            # grow the channel: a BGRA slot of this width with enough rows holds these planes
            rows = -(-pixel_formats.frame_bytes(*geometry) // (4 * frame.width))
            supervisor.need_frame_size(frame.width, rows)
            self._forget()
            self.draws["original"] += 1
            return frame_address
        self._exchange(frame, geometry, started)
        self.render_ms = (time.perf_counter() - started) * 1000.0
        self.work_ms = self.render_ms - self.wait_ms
        return frame_address

    @staticmethod
    def _geometry(frame) -> tuple:
        planes = pixel_formats.planes(frame.format, frame.width, frame.height)
        return frame.format, frame.width, frame.height, tuple(frame.linesize[:len(planes)])

    def _exchange(self, frame, geometry, started) -> None:
        """Hand this frame over and wait for its answer, but only as long as the answer can
        come within the budget: a worker slower than that (a big frame on a small CPU)
        gets frames without anyone waiting, and the newest answer stands in at once."""
        exchange = self.binding.exchange
        entered_ns = liveness.now_ns()
        interval_ns = self.gs.obs_get_frame_interval_ns() or 33_333_333
        deadline = self.budget.deadline(started, interval_ns / 1e9)
        worker_s = self._quickest_worker_s(exchange) * WORKER_TIME_MARGIN
        waited_from = time.perf_counter()
        input_busy = not exchange.input_free()
        if input_busy and self.handed_at + 2 * worker_s < deadline:
            while not exchange.input_free() and time.perf_counter() < deadline:
                time.sleep(POLL_S)      # the worker takes an earlier frame, then does this one in time
        self._collect(exchange)
        mine = False
        if exchange.input_free():
            self._copy_planes(frame, self.binding.in_address, into_frame=False)
            exchange.hand_over(frame.width, frame.height, geometry[3][0], entered_ns, frame.format, geometry[3],
                               tuple(frame.color_matrix[:12]))
            self.handed_at = time.perf_counter()
            self.frames_sent += 1
            if self.handed_at + worker_s < deadline:
                while time.perf_counter() < deadline:
                    if self._collect(exchange) and self.held[2] == entered_ns:
                        mine = True
                        break
                    time.sleep(POLL_S)
            elif not input_busy:   # (not: the tick's budget went on the frame before)
                self.unwaited += 1
        self.wait_ms = (time.perf_counter() - waited_from) * 1000.0
        held = self.held
        if held is None or held[1] != geometry:
            self.draws["original"] += 1   # nothing swapped of this size yet: the camera's own frame
            self.has_result = False
            return
        self._copy_planes(frame, ctypes.addressof(held[0]), into_frame=True)
        self.has_result = True
        self.results_drawn += 1
        self.draws["result"] += 1
        if mine:
            self.own_results += 1
        else:
            self.late += 1
        self._note_latency(held[2], entered_ns)

    def _quickest_worker_s(self, exchange) -> float:
        """The quickest of the worker's last few frame times. Not its last one, nor a
        typical one: the worker is quick when the filter waits for it (OBS's graphics
        thread then sleeps and leaves the CPU to it) and slow when it does not (OBS renders
        meanwhile): one slow frame, or a median of frames not waited for, stopped the waits
        that would have made the next frames quick (on two cores at 720p a fifth to half
        of the frames went unwaited for, most of which are answered in time when waited on).
        A worker slower than the budget on every recent frame is still not waited for."""
        times = self.worker_times
        return min(times) if times else exchange.worker_time_us() / 1e6

    def _collect(self, exchange) -> bool:
        """Copy a new answer out of its output slot (the worker reuses the slot for a later
        answer); True if there was one."""
        with exchange.newest_result(self.seen_seq) as result:
            if result is None:
                return False
            self.seen_seq = result.seq
            if not result.width:
                return False              # an answer that does not fit the slot: never read
            geometry = (result.format, result.width, result.height, result.plane_strides())
            size = pixel_formats.frame_bytes(*geometry)
            held = self.held
            buffer = held[0] if held is not None and len(held[0]) >= size else ctypes.create_string_buffer(size)
            ctypes.memmove(buffer, self.binding.out_addresses[result.slot], size)
        self.held = (buffer, geometry, result.time_ns)
        self.worker_times.append(exchange.worker_time_us() / 1e6)
        return True

    @staticmethod
    def _copy_planes(frame, address: int, into_frame: bool) -> None:
        """The frame's planes to `address` (planes one after another, the frame's line
        sizes) or, into_frame, from there back into the frame: one memmove per plane."""
        for index, plane in enumerate(pixel_formats.planes(frame.format, frame.width, frame.height)):
            size = frame.linesize[index] * plane.rows
            if into_frame:
                ctypes.memmove(frame.data[index], address, size)
            else:
                ctypes.memmove(address, frame.data[index], size)
            address += size

    def _forget(self) -> None:
        """Worker down or not swapping: originals until a fresh answer arrives."""
        self.has_result = False
        self.held = None
        self.worker_times.clear()
        if self.binding is not None:
            self.seen_seq = self.binding.exchange.result_seq()

    def release(self) -> None:
        self.binding = None
        self.held = None
