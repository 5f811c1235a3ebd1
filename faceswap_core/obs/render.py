"""video_render for one filter instance: read the parent back, hand it over, draw the result.

Runs on the graphics thread with the graphics context current, through the PyDLL handle
(GIL kept). It never waits: the worker gets a frame only when it is free (the handshake
is the link's Exchange), the frame handed over is the one staged on the previous call
(double-buffered staging, so mapping never waits for the GPU), and a result is uploaded
only when a new one exists. GPU objects are created once per frame size; per frame
nothing is allocated besides small integers and one tuple per new result.
"""

from __future__ import annotations

import collections
import ctypes
import time

from .. import link
from ..link import liveness
from . import libobs as L
from . import frame_path
from .frame_path import FramePath

PAUSE_NS = 500_000_000   # no draw call for this long: the filter or its source was hidden


class FrameRenderer(FramePath):
    """GPU objects and the per-frame exchange with the worker for one filter."""

    def __init__(self, api: L.LibObs):
        self.api = api
        self.gs = api.render
        self.size = (0, 0)
        self.texrender = None
        self.stage = [None, None]
        self.stage_time = [0, 0]
        self.staged = -1               # index of the surface staged by the previous call
        self.results = [None, None]    # dynamic textures: the newest result and the one before
        self.result = None             # the one to draw (the newest)
        self.has_result = False
        self.uploaded_seq = 0
        self.binding: link.Binding | None = None
        self._map_data = ctypes.c_void_p()
        self._map_linesize = ctypes.c_uint32()
        self._map_data_ref = ctypes.byref(self._map_data)
        self._map_linesize_ref = ctypes.byref(self._map_linesize)
        self._clear = (ctypes.c_float * 8)()
        self._clear_address = (ctypes.addressof(self._clear) + 15) & ~15   # vec4 is 16-byte aligned
        self.latency_ms = 0.0
        self.latencies_ms = collections.deque(maxlen=frame_path.LATENCY_SAMPLES)
        self.draws = {"result": 0, "original": 0, "nothing": 0}   # what each video_render drew
        self.frames_sent = 0
        self.results_drawn = 0
        self.render_ms = 0.0
        self.last_call_ns = 0
        self.handed_at_ns = 0

    # -- the callback body ------------------------------------------------------------------
    def render(self, source, supervisor) -> None:
        gs = self.gs
        started = time.perf_counter()
        target = gs.obs_filter_get_target(source)
        if not target or not gs.obs_filter_get_parent(source):
            self.draws["nothing"] += 1
            return   # being added or removed; skip_video_filter would dereference the parent
        width = gs.obs_source_get_base_width(target)
        height = gs.obs_source_get_base_height(target)
        if not width or not height:
            self.draws["original"] += 1
            self.pass_through(source)
            return
        if (width, height) != self.size:
            self._resize(width, height)
        if not (supervisor.worker_up and self._bind(supervisor)
                and self.binding.exchange.state() == link.STATE_RUNNING):
            self._forget()              # worker down or not swapping: the original, directly
            self.draws["original"] += 1
            self.pass_through(source)
            self.render_ms = (time.perf_counter() - started) * 1000.0
            return
        texture = self._render_parent(source, width, height)
        if texture is None:
            self.draws["original"] += 1
            self.pass_through(source)
            return
        self._exchange(texture, width, height, supervisor)
        self.draws["result" if self.has_result else "original"] += 1
        self._draw(self.result if self.has_result else texture, width, height)
        self.render_ms = (time.perf_counter() - started) * 1000.0

    def pass_through(self, source) -> None:
        """Draw the parent untouched (swap off, script unloaded, after an error)."""
        gs = self.gs
        if gs.obs_filter_get_target(source) and gs.obs_filter_get_parent(source):
            gs.obs_source_skip_video_filter(source)

    # -- steps ------------------------------------------------------------------------------------
    def _render_parent(self, source, width, height):
        """The filter's input (the parent, or the filter before us) drawn into our texrender.

        obs_source_skip_video_filter draws exactly this filter's input, with the right
        path for every kind of parent (sync, async, custom-draw, another filter), in one
        draw; process_filter_begin/end would draw it twice (into libobs's texrender, then
        into ours).
        """
        gs = self.gs
        gs.gs_texrender_reset(self.texrender)
        if not gs.gs_texrender_begin(self.texrender, width, height):
            return None
        gs.gs_ortho(0.0, float(width), 0.0, float(height), -100.0, 100.0)
        gs.gs_clear(L.GS_CLEAR_COLOR, self._clear_address, 0.0, 0)
        gs.gs_blend_state_push()
        gs.gs_blend_function(L.GS_BLEND_ONE, L.GS_BLEND_ZERO)
        gs.obs_source_skip_video_filter(source)
        gs.gs_blend_state_pop()
        gs.gs_texrender_end(self.texrender)
        return gs.gs_texrender_get_texture(self.texrender)

    def _exchange(self, texture, width, height, supervisor) -> None:
        gs = self.gs
        b = self.binding
        exchange = b.exchange
        if width * height * 4 > b.capacity:
            supervisor.need_frame_size(width, height)
            self._forget()
            return
        now = liveness.now_ns()
        interval = now - self.last_call_ns if self.last_call_ns else 0
        self.last_call_ns = now
        if interval > PAUSE_NS:
            # drawing was paused (the filter or its source hidden, a scene switched away): the
            # frame staged before it shows a moment that is gone. The last result is still
            # drawn until a fresh one comes: the camera's own frame would show the streamer's
            # unswapped face for two frames each time the scene came back.
            self.resumed_ns = now
            self.staged = -1
        # 1. the newest result, if there is one we have not uploaded
        with exchange.newest_result(self.uploaded_seq) as result:
            if result is not None:
                self.uploaded_seq = result.seq
                if (result.width, result.height) == (width, height):
                    # upload into the texture not drawn last frame, so the upload never has to
                    # wait for the GPU to finish reading it
                    upload = self.results[0] if self.result is not self.results[0] else self.results[1]
                    gs.gs_texture_set_image(upload, b.out_addresses[result.slot], result.stride, False)
                    self.result = upload
                    self.has_result = True
                    self.results_drawn += 1
                    self._note_latency(result.time_ns, liveness.now_ns())
        # 2. the frame staged last call goes to the worker, if it is free
        if self.staged >= 0 and exchange.input_free():
            surface = self.stage[self.staged]
            if gs.gs_stagesurface_map(surface, self._map_data_ref, self._map_linesize_ref):
                self._copy_in(b, self._map_data.value, self._map_linesize.value, width, height)
                gs.gs_stagesurface_unmap(surface)
                exchange.hand_over(width, height, width * 4, self.stage_time[self.staged])
                self.handed_at_ns = liveness.now_ns()
                self.frames_sent += 1
            self.staged = -1
        # 3. stage this frame for the next hand-over (alternating surfaces), unless the
        #    worker is sure to be busy at the next call (staging costs a copy on the GPU)
        busy_until = self.handed_at_ns + exchange.worker_time_us() * 1000 - interval
        if exchange.input_free() or now >= busy_until:
            index = 0 if self.staged != 0 else 1
            gs.gs_stage_texture(self.stage[index], texture)
            self.stage_time[index] = now
            self.staged = index

    @staticmethod
    def _copy_in(binding, source_address, linesize, width, height) -> None:
        row = width * 4
        if linesize == row:
            ctypes.memmove(binding.in_address, source_address, row * height)
            return
        destination = binding.in_address
        for _ in range(height):
            ctypes.memmove(destination, source_address, row)
            destination += row
            source_address += linesize

    def _draw(self, texture, width, height) -> None:
        gs = self.gs
        effect = gs.obs_get_base_effect(L.OBS_EFFECT_DEFAULT)
        gs.gs_effect_set_texture(gs.gs_effect_get_param_by_name(effect, b"image"), texture)
        while gs.gs_effect_loop(effect, b"Draw"):
            gs.gs_draw_sprite(texture, 0, width, height)

    def _forget(self) -> None:
        """Worker down or not swapping: draw originals until a fresh result arrives."""
        self.has_result = False
        self.staged = -1
        if self.binding is not None:
            self.uploaded_seq = self.binding.exchange.result_seq()

    def _resize(self, width, height) -> None:
        gs = self.gs
        self._destroy_surfaces(gs)
        if self.texrender is None:
            self.texrender = gs.gs_texrender_create(L.GS_BGRA, L.GS_ZS_NONE)
        self.stage = [gs.gs_stagesurface_create(width, height, L.GS_BGRA) for _ in range(2)]
        self.results = [gs.gs_texture_create(width, height, L.GS_BGRA, 1, None, L.GS_DYNAMIC) for _ in range(2)]
        self.result = None
        self.size = (width, height)
        self.staged = -1
        self.has_result = False

    def _destroy_surfaces(self, functions) -> None:
        for surface in self.stage:
            if surface:
                functions.gs_stagesurface_destroy(surface)
        self.stage = [None, None]
        for texture in self.results:
            if texture:
                functions.gs_texture_destroy(texture)
        self.results = [None, None]
        self.result = None

    def destroy(self) -> None:
        """Free GPU objects from any thread (enters the graphics context, GIL released)."""
        obs = self.api.blocking
        obs.obs_enter_graphics()
        try:
            self._destroy_surfaces(obs)
            if self.texrender:
                obs.gs_texrender_destroy(self.texrender)
            self.texrender = None
        finally:
            obs.obs_leave_graphics()
        self.binding = None
