"""The invisible mark on what OBS sends out: the program picture at the canvas's size, not
the camera source (which a scene scales, crops and places, and which the output then
scales again).

How: a second filter type, "Face Swap Mark", that the script puts on every scene holding
a source with a Face Swap filter. It draws its scene through a small shader
(program_mark.effect) that adds the mark: the same cells and shape as
provenance/mark.py, from provenance/mark_layout.py, so `faceswap verify` reads it. It
marks only while a Face Swap filter is swapping with "Invisible mark" on, and only the
program scene (obs_frontend_get_current_scene): a scene nested in another draws unmarked
inside it, so two marks never overlap. The worker then leaves the camera unmarked in OBS.

Like FilterRegistry, this lives once per process: libobs keeps pointers to its struct
and callbacks for good.
"""

from __future__ import annotations

import ctypes
import os
import threading

from .. import schema
from ..provenance import mark_layout
from . import frontend
from . import libobs as L
from . import source_info as si

MARK_ID = b"obs_faceswap_mark"
MARK_NAME = b"Face Swap Mark"
EFFECT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "program_mark.effect")
GS_R8 = 2
OBS_NO_DIRECT_RENDERING = 0
SCENE_EVENTS = (frontend.SCENE_CHANGED, frontend.SCENE_LIST_CHANGED, frontend.SCENE_COLLECTION_CHANGED,
                frontend.FINISHED_LOADING, frontend.STREAMING_STARTING, frontend.RECORDING_STARTING)
ENUM_SCENES = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
WATCH_EVERY_S = 2.0


class MarkDrawing:
    """One "Face Swap Mark" filter's graphics: the effect and the cells texture, made on
    the graphics thread at its first draw."""

    def __init__(self, source):
        self.source = source
        self.effect = None
        self.cells = None
        self.params = {}
        self.failed = False


class ProgramMarks:
    """The mark filter type, its instances, the session, and which scene is the program."""

    def __init__(self, api: L.LibObs, registry, session_id: bytes | None = None):
        self.api = api
        self.registry = registry                   # FilterRegistry: its Face Swap instances
        self.session_id = session_id or os.urandom(mark_layout.PAYLOAD_BYTES - 1)
        self.cell_bytes = bytes(255 if sign > 0 else 0 for sign in mark_layout.cell_signs(self.session_id))
        self.library = None                        # the frontend, once the script is loaded
        self.program = None                        # the program scene's address; None = any scene
        self.instances: dict[int, MarkDrawing] = {}
        self._next_key = 1
        self._key_lock = threading.Lock()
        self._name = ctypes.create_string_buffer(MARK_NAME)
        self._id = ctypes.create_string_buffer(MARK_ID)
        self.callbacks = {
            "get_name": si.GET_NAME(lambda _type_data: ctypes.addressof(self._name)),
            "create": si.CREATE(self._create),
            "destroy": si.DESTROY(self._destroy),
            "video_render": si.VIDEO_RENDER(self._video_render),
        }
        self.info, self.info_buffer = si.video_filter_info(self._id, self.callbacks)
        self._enum_callback = ENUM_SCENES(self._visit_scene)
        self._wanted: list[bytes] = []             # during a scene walk: the sources with a Face Swap
        self._added = 0
        self._watch: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._walking = threading.Lock()   # a walker being stopped and its successor never walk at once

    def start(self) -> None:
        """While the script is loaded, one thread walks the scenes: at once, when a scene
        event wakes it, and every WATCH_EVERY_S (a Face Swap filter added in the Filters
        dialog raises no frontend event). One walker, so a scene never gets two marks."""
        self._wake.set()
        if self._watch is not None and self._watch.is_alive() and not self._stop.is_set():
            return
        self._stop = threading.Event()      # each walker its own: one being stopped never runs on
        self._watch = threading.Thread(target=self._watch_scenes, args=(self._stop,), name="faceswap-program-mark",
                                       daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _watch_scenes(self, stop: threading.Event) -> None:
        while True:
            self._wake.wait(WATCH_EVERY_S)
            self._wake.clear()
            if stop.is_set():
                return
            try:
                self.put_on_scenes()
            except Exception as error:
                self.api.log(L.LOG_WARNING, f"program mark: {type(error).__name__}: {error}")
                stop.wait(10.0)

    def register(self) -> None:
        si.register_once(self.api, MARK_ID, self.info, self.info_buffer)

    def describe(self) -> str:
        return f"invisible mark on the program picture (session {self.session_id.hex()})"

    # -- what to draw ------------------------------------------------------------------------
    def strength(self) -> int:
        """The mark's strength now: the strongest of the swapping Face Swap filters with the
        mark on; 0 = none is, draw nothing."""
        # applied here, on OBS's side: clamped here (as the worker clamps what it applies)
        strengths = [schema.clamp("mark_strength", instance.settings.get("mark_strength",
                                                                         mark_layout.DEFAULT_STRENGTH))
                     for instance in list(self.registry.instances.values())
                     if instance.settings.get("mark", True) and instance.swap_active()]
        return max(strengths, default=0)

    # -- the scenes ------------------------------------------------------------------------------
    def on_event(self, event: int) -> None:
        """UI thread: note the program scene, wake the walker."""
        if event in SCENE_EVENTS:
            self.follow_program()
            self._wake.set()

    def follow_program(self) -> None:
        if self.library is None:
            return
        scene = self.library.obs_frontend_get_current_scene()
        self.program = scene or None               # compared by address only, never used
        if scene:
            self.api.blocking.obs_source_release(scene)

    def put_on_scenes(self) -> int:
        """The walker's: adds a mark filter to each scene that holds (at any depth) a source
        with a Face Swap filter and has none yet; returns how many were added."""
        obs = self.api.blocking
        with self._walking:
            self._wanted = []
            for instance in list(self.registry.instances.values()):
                parent = obs.obs_filter_get_parent(instance.source)
                name = obs.obs_source_get_name(parent) if parent else None
                if name:
                    self._wanted.append(name)
            self._added = 0
            if self._wanted:
                obs.obs_enum_scenes(self._enum_callback, None)
            return self._added

    def _visit_scene(self, _param, scene_source) -> bool:
        try:
            obs = self.api.blocking
            scene = obs.obs_scene_from_source(scene_source)
            if scene and any(obs.obs_scene_find_source_recursive(scene, name) for name in self._wanted):
                existing = obs.obs_source_get_filter_by_name(scene_source, MARK_NAME)
                if existing:
                    obs.obs_source_release(existing)
                else:
                    created = obs.obs_source_create(MARK_ID, MARK_NAME, None, None)
                    if created:
                        obs.obs_source_filter_add(scene_source, created)
                        obs.obs_source_release(created)
                        self._added += 1
        except Exception as error:   # never into libobs
            self.api.log(L.LOG_WARNING, f"program mark: {type(error).__name__}: {error}")
        return True

    # -- the filter's callbacks -----------------------------------------------------------------
    def _create(self, _settings, source):
        with self._key_lock:
            key = self._next_key
            self._next_key += 1
        self.instances[key] = MarkDrawing(source)
        return key

    def _destroy(self, key):
        drawing = self.instances.pop(key or 0, None)
        if drawing is None or not (drawing.effect or drawing.cells):
            return
        obs = self.api.blocking
        obs.obs_enter_graphics()
        try:
            if drawing.cells:
                obs.gs_texture_destroy(drawing.cells)
            if drawing.effect:
                obs.gs_effect_destroy(drawing.effect)
        finally:
            obs.obs_leave_graphics()

    def _video_render(self, key, _effect):
        """Graphics thread. Any failure draws the scene unmarked: never a black program."""
        drawing = self.instances.get(key or 0)
        if drawing is None:
            return
        gs = self.api.render
        source = drawing.source
        try:
            strength = self.strength()
            parent = gs.obs_filter_get_parent(source)
            target = gs.obs_filter_get_target(source)
            width, height = gs.obs_source_get_base_width(target), gs.obs_source_get_base_height(target)
            if (not strength or drawing.failed or not width or not height
                    or (self.program is not None and parent != self.program) or not self._prepare(drawing)):
                gs.obs_source_skip_video_filter(source)
                return
            scene_drawing = self.api.blocking      # the scene's own draw: the GIL stays free meanwhile
            if not scene_drawing.obs_source_process_filter_begin(source, L.GS_RGBA, OBS_NO_DIRECT_RENDERING):
                return
            params = drawing.params
            gs.gs_effect_set_texture(params["cells"], drawing.cells)
            gs.gs_effect_set_float(params["amplitude"], strength * mark_layout.SHAPE_GAIN)
            gs.gs_effect_set_float(params["limit"], float(strength))
            gs.gs_effect_set_float(params["linear_input"], 1.0 if gs.gs_get_linear_srgb() else 0.0)
            scene_drawing.obs_source_process_filter_end(source, drawing.effect, width, height)
        except Exception as error:
            drawing.failed = True
            self.api.log(L.LOG_WARNING, f"program mark: drawing failed, the scene shows unmarked: "
                                        f"{type(error).__name__}: {error}")

    def _prepare(self, drawing: MarkDrawing) -> bool:
        if drawing.effect and drawing.cells:
            return True
        gs = self.api.render
        effect = gs.gs_effect_create_from_file(EFFECT_FILE.encode(), None)
        if not effect:
            drawing.failed = True
            self.api.log(L.LOG_WARNING, f"program mark: OBS could not compile {EFFECT_FILE}; no mark on the program")
            return False
        data = (ctypes.c_char_p * 1)(self.cell_bytes)
        cells = gs.gs_texture_create(mark_layout.COLUMNS, mark_layout.ROWS, GS_R8, 1,
                                     ctypes.cast(data, ctypes.c_void_p), 0)
        if not cells:
            gs.gs_effect_destroy(effect)
            drawing.failed = True
            return False
        drawing.effect, drawing.cells = effect, cells
        drawing.params = {name: gs.gs_effect_get_param_by_name(effect, name.encode())
                          for name in ("cells", "amplitude", "limit", "linear_input")}
        return True
