"""A standalone libobs host: plain Python, no OBS window, the project's script module.

Run under an X display (Xvfb), with OBS's scripting folder on PYTHONPATH for obspython:

    PYTHONPATH=/usr/lib/x86_64-linux-gnu/obs-scripting \
        python -m testkit.libobs_host --image face.png --photo obama.jpg --out DIR

It starts libobs with OpenGL, loads the needed plugins one by one, loads obs_faceswap.py
like OBS does (script_load), makes an image source, adds the "Face Swap" filter, and
captures the rendered output through a raw video callback. Frames are written as raw
BGRA files with a JSON summary (status line, render timings, latency, cleanup checks).
Every libobs call that can block goes through a GIL-releasing ctypes.CDLL handle (SWIG
calls keep the GIL and can deadlock with a Python video_render); obspython is used only
for a read-only version query.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from ctypes import POINTER, c_bool, c_char_p, c_int, c_uint32, c_uint64, c_void_p

from faceswap_core.obs import libobs
from testkit.obs_installs import HOST

PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/obs-plugins"
DATA_DIR = "/usr/share/obs"
PLUGINS = ("image-source", "obs-ffmpeg", "obs-filters", "obs-outputs", "obs-x264", "obs-transitions")
VIDEO_FORMAT_BGRA = 7
OBS_NIX_PLATFORM_X11_EGL = 1   # libobs/obs-nix-platform.h (after X11_GLX, or INVALID from OBS 31)


class ObsVideoInfo(ctypes.Structure):
    _fields_ = [
        ("graphics_module", c_char_p),
        ("fps_num", c_uint32), ("fps_den", c_uint32),
        ("base_width", c_uint32), ("base_height", c_uint32),
        ("output_width", c_uint32), ("output_height", c_uint32),
        ("output_format", c_int),
        ("adapter", c_uint32),
        ("gpu_conversion", c_bool),
        ("colorspace", c_int),
        ("range", c_int),
        ("scale_type", c_int),
    ]


class VideoData(ctypes.Structure):
    _fields_ = [("data", c_void_p * 8), ("linesize", c_uint32 * 8), ("timestamp", c_uint64)]


RAW_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, POINTER(VideoData))
P = c_void_p
# What a host calls beyond what the filter itself declares (faceswap_core.obs.libobs's
# tables, reused): starting libobs, sources, scenes, properties, frame capture, counters.
HOST_FUNCTIONS = {
    "obs_set_nix_platform": (None, [c_int]),
    "obs_set_nix_platform_display": (None, [P]),
    "obs_startup": (c_bool, [c_char_p, c_char_p, P]),
    "obs_shutdown": (None, []),
    "obs_add_data_path": (None, [c_char_p]),
    "obs_reset_video": (c_int, [POINTER(ObsVideoInfo)]),
    "obs_reset_audio": (c_bool, [P]),
    "obs_open_module": (c_int, [POINTER(c_void_p), c_char_p, c_char_p]),
    "obs_init_module": (c_bool, [P]),
    "obs_post_load_modules": (None, []),
    "obs_add_raw_video_callback": (None, [P, RAW_CALLBACK, P]),
    "obs_remove_raw_video_callback": (None, [RAW_CALLBACK, P]),
    "obs_get_average_frame_time_ns": (c_uint64, []),
    "obs_get_lagged_frames": (c_uint32, []),
    "obs_get_total_frames": (c_uint32, []),
    "obs_set_output_source": (None, [c_uint32, P]),
    "obs_data_create": (P, []),
    "obs_data_create_from_json": (P, [c_char_p]),
    "obs_data_set_bool": (None, [P, c_char_p, c_bool]),
    "obs_data_set_int": (None, [P, c_char_p, ctypes.c_int64]),
    "obs_data_set_double": (None, [P, c_char_p, ctypes.c_double]),
    "obs_source_create": (P, [c_char_p, c_char_p, P, P]),
    "obs_source_create_private": (P, [c_char_p, c_char_p, P]),
    "obs_source_release": (None, [P]),
    "obs_source_remove": (None, [P]),
    "obs_source_update": (None, [P, P]),
    "obs_source_set_enabled": (None, [P, c_bool]),
    "obs_source_filter_add": (None, [P, P]),
    "obs_source_filter_remove": (None, [P, P]),
    "obs_source_properties": (P, [P]),
    "obs_properties_get": (P, [P, c_char_p]),
    "obs_property_button_clicked": (c_bool, [P, P]),
    "obs_properties_destroy": (None, [P]),
    "obs_scene_create": (P, [c_char_p]),
    "obs_scene_add": (P, [P, P]),
    "obs_scene_get_source": (P, [P]),
    "obs_scene_release": (None, [P]),
    "obs_source_get_sync_offset": (ctypes.c_int64, [P]),
    "obs_source_set_sync_offset": (None, [P, ctypes.c_int64]),
    "obs_property_list_item_count": (ctypes.c_size_t, [P]),
    "obs_property_visible": (c_bool, [P]),
    "obs_property_text_type": (ctypes.c_int, [P]),
    "obs_property_modified": (c_bool, [P, P]),
    "obs_property_list_item_string": (c_char_p, [P, ctypes.c_size_t]),
    "bnum_allocs": (ctypes.c_long, []),   # libobs's live allocation count (leak checks)
    "obs_enum_hotkeys": (None, [P, P]),
    "obs_hotkey_get_id": (ctypes.c_size_t, [P]),
    "obs_hotkey_get_name": (c_char_p, [P]),
    "obs_hotkey_get_description": (c_char_p, [P]),
    "obs_hotkey_get_registerer": (P, [P]),
    "obs_hotkey_get_registerer_type": (c_int, [P]),
    "obs_weak_source_references_source": (c_bool, [P, P]),
    "obs_hotkey_enable_callback_rerouting": (None, [c_bool]),
    "obs_hotkey_trigger_routed_callback": (None, [ctypes.c_size_t, c_bool]),
    "obs_hotkey_load_bindings": (None, [ctypes.c_size_t, P, ctypes.c_size_t]),
    "obs_hotkey_save": (P, [ctypes.c_size_t]),
    "obs_key_from_name": (c_int, [c_char_p]),
    "obs_save_source": (P, [P]),
    "obs_load_source": (P, [P]),
    "obs_data_get_json": (c_char_p, [P]),
    "obs_data_set_array": (None, [P, c_char_p, P]),
}
HOTKEY_ENUM = ctypes.CFUNCTYPE(c_bool, c_void_p, ctypes.c_size_t, c_void_p)
OBS_HOTKEY_REGISTERER_SOURCE = 1   # enum obs_hotkey_registerer_type


class KeyCombination(ctypes.Structure):
    _fields_ = [("modifiers", c_uint32), ("key", c_int)]   # struct obs_key_combination


class Host:
    """libobs started for one output size; frames captured from the main view."""

    def __init__(self, width: int, height: int, fps: int = 30, capture: bool = True):
        self.obs = libobs.Functions(libobs.loaded_libobs(), {**libobs.BLOCKING_FUNCTIONS, **HOST_FUNCTIONS})
        o = self.obs
        self.width, self.height = width, height
        # What OBS's UI does first: the platform and its X connection. Without them OBS 32
        # logs "Unable to open X display" where it describes the X server (its graphics ran
        # either way here); the host starts libobs the way OBS does.
        x11 = ctypes.CDLL("libX11.so.6")
        x11.XOpenDisplay.restype = c_void_p
        x11.XOpenDisplay.argtypes = [c_char_p]
        self.x_display = x11.XOpenDisplay(None)
        if not self.x_display:
            raise RuntimeError("cannot open the X display (is DISPLAY set?)")
        o.obs_set_nix_platform(OBS_NIX_PLATFORM_X11_EGL)
        o.obs_set_nix_platform_display(self.x_display)
        if not o.obs_startup(b"en-US", None, None):
            raise RuntimeError("obs_startup failed")
        o.obs_add_data_path(f"{DATA_DIR}/libobs/".encode())
        info = ObsVideoInfo(HOST.opengl_module().encode(), fps, 1, width, height, width, height, VIDEO_FORMAT_BGRA, 0, False, 0, 2, 3)
        code = o.obs_reset_video(ctypes.byref(info))
        if code != 0:
            raise RuntimeError(f"obs_reset_video failed with {code} (is DISPLAY set?)")
        audio = (c_uint32 * 2)(48000, 2)   # struct obs_audio_info: 48 kHz, SPEAKERS_STEREO
        if not o.obs_reset_audio(ctypes.byref(audio)):   # media sources need an audio subsystem
            raise RuntimeError("obs_reset_audio failed")
        for name in PLUGINS:
            module = c_void_p()
            if o.obs_open_module(ctypes.byref(module), f"{PLUGIN_DIR}/{name}.so".encode(),
                                 f"{DATA_DIR}/obs-plugins/{name}".encode()) == 0:
                o.obs_init_module(module)
        o.obs_post_load_modules()
        self.latest = None
        self.frames_seen = 0
        self.recorded: list | None = None   # a list: every frame from now on is kept in it too
        self._callback = RAW_CALLBACK(self._on_frame)
        self.capturing = capture   # off: no per-frame copy into Python (long measurements)
        if capture:
            o.obs_add_raw_video_callback(None, self._callback, None)

    def _on_frame(self, param, frame):
        video = frame.contents
        linesize = video.linesize[0]
        self.latest = (ctypes.string_at(video.data[0], linesize * self.height), linesize)
        self.frames_seen += 1
        recorded = self.recorded
        if recorded is not None:
            recorded.append(self.latest)

    def data(self, values: dict):
        o = self.obs
        data = o.obs_data_create_from_json(json.dumps({key: value for key, value in values.items()
                                                       if isinstance(value, list)}).encode())
        for key, value in values.items():
            if isinstance(value, list):
                continue
            if isinstance(value, bool):
                o.obs_data_set_bool(data, key.encode(), value)
            elif isinstance(value, int):
                o.obs_data_set_int(data, key.encode(), value)
            else:
                o.obs_data_set_string(data, key.encode(), str(value).encode())
        return data

    def create(self, kind: str, name: str, values: dict):
        data = self.data(values)
        source = self.obs.obs_source_create(kind.encode(), name.encode(), data, None)
        self.obs.obs_data_release(data)
        if not source:
            raise RuntimeError(f"could not create a {kind} source")
        return source

    def next_frame(self, timeout: float = 10.0):
        """A frame rendered after this call (BGRA bytes, linesize)."""
        seen = self.frames_seen
        deadline = time.monotonic() + timeout
        while self.frames_seen < seen + 2:
            if time.monotonic() > deadline:
                raise RuntimeError("no frame from libobs")
            time.sleep(0.01)
        return self.latest

    def next_picture(self, timeout: float = 20.0):
        """The next frame that shows something: a source's first frames after it becomes
        the output can be black (an image source uploads its texture on a later tick; one
        CI run under load read a black frame two frames in)."""
        deadline = time.monotonic() + timeout
        while True:
            data, linesize = self.next_frame(max(0.1, deadline - time.monotonic()))
            if any(data[row * linesize: row * linesize + self.width * 4].strip(b"\x00\xff")
                   for row in range(0, self.height, max(1, self.height // 16))):
                return data, linesize
            if time.monotonic() > deadline:
                raise RuntimeError("libobs rendered only black frames")

    def shutdown(self):
        o = self.obs
        o.obs_set_output_source(0, None)
        if self.capturing:
            o.obs_remove_raw_video_callback(self._callback, None)
        o.obs_shutdown()


def write_frame(path: str, frame, width: int, height: int) -> None:
    data, linesize = frame
    with open(path, "wb") as handle:
        for row in range(height):
            handle.write(data[row * linesize: row * linesize + width * 4])


def channels_held(pid: int) -> list[str]:
    """The filter channels a process holds, as paths: its memfds (/proc/PID/fd/N, one per
    memfd: Python's mmap keeps a descriptor of its own) and its files in /dev/shm (the
    fallback). What a leak check looks at: a memfd lives as long as a descriptor to it,
    a file until it is removed."""
    from faceswap_core.link import memory

    folder = f"/proc/{pid}/fd"
    try:
        descriptors = sorted(os.listdir(folder), key=int)
    except OSError:   # the process is gone, and its descriptors with it
        descriptors = []
    memfds = {}
    for fd in descriptors:
        path = f"{folder}/{fd}"
        try:
            if os.readlink(path).startswith(f"/memfd:{memory.MEMFD_NAME} "):
                memfds.setdefault(os.stat(path).st_ino, path)
        except OSError:
            continue
    prefix = f"{memory.FILE_PREFIX}{pid}-"
    files = [f"/dev/shm/{name}" for name in os.listdir("/dev/shm") if name.startswith(prefix)]
    return sorted(memfds.values()) + sorted(files)


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="", help="the image source's file (the 'camera')")
    parser.add_argument("--media", default="", help="a video file played by a media source (an async source, "
                                                    "like a webcam) instead of --image; needs --size")
    parser.add_argument("--photo", default="", help="the filter's source photo")
    parser.add_argument("--python", default="", help="the worker interpreter (default: the filter's)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", default="", help="WxH of the output (default: the image's)")
    parser.add_argument("--no-filter", action="store_true", help="measure without the filter")
    parser.add_argument("--frames", type=int, default=3, help="frames to write once the swap shows")
    parser.add_argument("--bench-seconds", type=float, default=0.0, help="measure render timings this long")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--reload", action="store_true", help="unload and reload the script mid-run")
    parser.add_argument("--second-image", default="", help="switch the source to this PNG (a size change)")
    parser.add_argument("--crop-left", type=int, default=0,
                        help="put OBS's Crop/Pad filter (this many pixels off the left) before Face Swap")
    parser.add_argument("--sync-audio", action="store_true",
                        help="a second source 'Mic' whose sync offset the filter keeps in step (checked, then given back)")
    parser.add_argument("--settings-json", default="",
                        help="then apply these filter settings (JSON, as OBS saves them) and report the dialog")
    parser.add_argument("--wait-status", default="",
                        help="once the swap shows, wait (up to --timeout) until the status line holds this")
    parser.add_argument("--more-faces", default="",
                        help="the filter's more faces (paths joined by os.pathsep); then drive its hotkeys")
    parser.add_argument("--fade-ms", type=int, default=0, help="the filter's cross-fade on a switch")
    parser.add_argument("--stress-seconds", type=float, default=0.0,
                        help="change settings and build properties from another thread while rendering")
    parser.add_argument("--hide-seconds", type=float, default=0.0,
                        help="once the swap shows, take the source off the output this long and back (a scene "
                             "switched away and back), three times: which frames after each return are unswapped")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x")) if args.size else image_size(args.image)
    summary = {"width": width, "height": height}
    host = Host(width, height)
    summary["obs_version"] = obs_version()
    import obs_faceswap  # the script module, loaded like OBS loads it
    from faceswap_core.obs import registration

    obs_faceswap.script_load(None)
    if args.media:
        image = host.create("ffmpeg_source", "camera", {"local_file": os.path.abspath(args.media), "looping": True,
                                                         "is_local_file": True, "hw_decode": False})
    else:
        image = host.create("image_source", "camera", {"file": os.path.abspath(args.image)})
    host.obs.obs_set_output_source(0, image)
    swap = None
    original = host.next_picture()
    write_frame(os.path.join(args.out, "original.bgra"), original, width, height)
    if not args.no_filter:
        settings = {"source_photo": os.path.abspath(args.photo) if args.photo else ""}
        if args.sync_audio:
            microphone = host.create("ffmpeg_source", MICROPHONE, {})   # carries audio; no file needed
            host.obs.obs_source_set_sync_offset(microphone, MICROPHONE_OFFSET_NS)
            settings["sync_audio"] = MICROPHONE
        if args.python:
            settings["python"] = args.python
        if args.more_faces:
            settings["more_faces"] = [os.path.abspath(path) for path in args.more_faces.split(os.pathsep)]
        if args.fade_ms:
            settings["switch_fade_ms"] = args.fade_ms
        if args.crop_left:
            crop = host.create("crop_filter", "Crop", {"left": args.crop_left, "relative": True})
            host.obs.obs_source_filter_add(image, crop)
            host.obs.obs_source_release(crop)
        if args.more_faces:   # an editable file list as OBS saves it
            settings["more_faces"] = [{"value": path, "selected": False, "hidden": False}
                                      for path in settings["more_faces"]]
        swap = host.create("obs_faceswap_filter", "Face Swap", settings)
        host.obs.obs_source_filter_add(image, swap)
        instance = next(iter(registration.registry().instances.values()))
        write_frame(os.path.join(args.out, "before_first_result.bgra"), host.next_frame(), width, height)
        summary["had_result_at_first_frame"] = instance.frames.has_result
        summary["worker_pid"] = instance.supervisor.worker_pid() if instance.supervisor else None
        started = time.monotonic()
        swapped = wait_for(lambda: instance.frames.has_result and instance.frames.results_drawn >= 3, args.timeout)
        summary["first_result_s"] = round(time.monotonic() - started, 2)
        summary["swapped"] = swapped
        if args.wait_status:
            summary["status_waited"] = wait_for(lambda: args.wait_status in instance.status_text(), args.timeout)
        summary["status"] = instance.status_text()
        summary["worker_pid"] = instance.supervisor.worker_pid()
        summary["filter_input_size"] = list(instance.frames.size)
        summary["path"] = instance.path_name()
        summary["status_shown"] = click_refresh_status(host, swap)
        if args.sync_audio:
            summary["audio_sync"] = follow_audio(host, swap, instance, microphone)
        if args.settings_json:
            summary["dialog"] = change_settings(host, swap, instance, json.loads(args.settings_json), args.timeout)
        if args.more_faces:
            summary["hotkeys"] = drive_hotkeys(host, swap, instance, args.out, args.timeout)
        if args.stress_seconds:
            summary.update(stress_ui_callbacks(host, swap, instance, args.stress_seconds))
        if args.reload:
            summary.update(reload_script(host, obs_faceswap, instance, width, height, args))
        if args.second_image:
            summary.update(switch_image(host, image, instance, args))
        if args.hide_seconds:
            summary["shown_again"] = hide_and_show(host, image, instance, args.hide_seconds, original)
    for index in range(args.frames):
        write_frame(os.path.join(args.out, f"frame{index}.bgra"), host.next_frame(), width, height)
    if args.bench_seconds:
        summary.update(measure(host, swap and instance, args.bench_seconds))
    if swap is not None:
        summary["status"] = instance.status_text()
        host.obs.obs_source_filter_remove(image, swap)
        if args.sync_audio:
            summary["audio_sync"]["after_removal_ms"] = offset_after(host, microphone, 3.0)
            host.obs.obs_source_release(microphone)
        host.obs.obs_source_release(swap)
    host.obs.obs_source_release(image)
    return finish(host, obs_faceswap, summary, args.out)


def finish(host: Host, script, summary: dict, out: str) -> int:
    """Unload the script, shut libobs down, and write what was left with the summary."""
    from faceswap_core.obs import registration

    script.script_unload()
    host.shutdown()
    summary["instances_left"] = len(registration.registry().instances)
    summary["channels_left"] = channels_held(os.getpid())
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=1)
    return 0


MICROPHONE = "Mic"
MICROPHONE_OFFSET_NS = 20_000_000    # the streamer's own offset: kept under ours, given back


def offset_ms(host: Host, source) -> float:
    return (host.obs.obs_source_get_sync_offset(source) - MICROPHONE_OFFSET_NS) / 1e6


def offset_after(host: Host, source, seconds: float) -> float:
    time.sleep(seconds)
    return offset_ms(host, source)


def follow_audio(host: Host, swap, instance, microphone) -> dict:
    """The microphone's offset against the filter's latency: sampled every 0.1 s for 4 s
    from 2 s after the swap shows; then with the filter off (eye icon) and on again."""
    props = host.obs.obs_source_properties(swap)
    listed = host.obs.obs_properties_get(props, b"sync_audio")
    choices = [host.obs.obs_property_list_item_string(listed, index).decode()
               for index in range(host.obs.obs_property_list_item_count(listed))] if listed else []
    host.obs.obs_properties_destroy(props)
    def sample(seconds: float) -> list:
        """(latency, offset) pairs every 0.1 s: one instant of each can be a load spike apart."""
        pairs = []
        for _ in range(int(seconds * 10)):
            pairs.append([round(instance.viewer_latency_ms(), 2), round(offset_ms(host, microphone), 2)])
            time.sleep(0.1)
        return pairs

    time.sleep(2.0)
    result = {"choices": choices, "samples": sample(4.0), "status": instance.status_text()}
    host.obs.obs_source_set_enabled(swap, False)
    result["disabled_ms"] = offset_after(host, microphone, 3.0)
    host.obs.obs_source_set_enabled(swap, True)
    time.sleep(2.0)
    result["enabled_again_samples"] = sample(1.5)
    return result


def click_refresh_status(host: Host, swap) -> str:
    """Build the properties, press "Refresh status", read what the status field shows."""
    o = host.obs
    props = o.obs_source_properties(swap)
    settings = o.obs_source_get_settings(swap)
    o.obs_data_set_string(settings, b"status", b"")
    button = o.obs_properties_get(props, b"refresh_status")
    clicked = o.obs_property_button_clicked(button, swap) if button else False
    shown = (o.obs_data_get_string(settings, b"status") or b"").decode()
    o.obs_data_release(settings)
    o.obs_properties_destroy(props)
    return shown if clicked else f"(button not clicked: {bool(button)})"


def dialog_state(host: Host, swap) -> dict:
    """What the properties dialog shows: each property's visibility (after libobs ran the
    modified callbacks, as the dialog does when it opens) and the execution providers offered."""
    from faceswap_core.obs import properties

    o = host.obs
    props = o.obs_source_properties(swap)
    try:
        keys = [key for setting in properties.SETTINGS for key in properties.obs_keys(setting)]
        shown = {key: bool(o.obs_property_visible(o.obs_properties_get(props, key.encode()))) for key in keys}
        providers = o.obs_properties_get(props, b"provider")
        offered = [o.obs_property_list_item_string(providers, index).decode()
                   for index in range(o.obs_property_list_item_count(providers))]
        text_types = {setting.key: o.obs_property_text_type(o.obs_properties_get(props, setting.key.encode()))
                      for setting in properties.SETTINGS if setting.kind in ("text", "secret")}
        return {"shown": shown, "providers": offered, "text_types": text_types}
    finally:
        o.obs_properties_destroy(props)


def change_settings(host: Host, swap, instance, values: dict, timeout: float) -> dict:
    """The dialog before, the settings applied as OBS's dialog applies them (obs_source_update
    with the JSON OBS saves, file lists included), the dialog after, what the filter read,
    and the status line once the worker took them up (running, or its error)."""
    from faceswap_core import link

    report = {"before": dialog_state(host, swap)}
    data = host.obs.obs_data_create_from_json(json.dumps(values).encode())
    host.obs.obs_source_update(swap, data)   # libobs calls update on the next video tick
    host.obs.obs_data_release(data)
    wait_for(lambda: instance.settings.get("engine") == values.get("engine", "landmark"), timeout)
    report["after"] = dialog_state(host, swap)
    report["read"] = {key: instance.settings.get(key) for key in ("engine", "extra_photos", "pairs", "face_mapping",
                                                                   "runtime", "provider", "swapper_file")}

    def settled():
        channel = instance.supervisor.channel
        return channel.error() or (channel.state() == link.STATE_RUNNING and values.get("engine") in channel.note())

    wait_for(settled, timeout)
    time.sleep(0.5)
    report["status"] = instance.status_text()
    return report


def source_hotkeys(host: Host, source) -> dict[str, int]:
    """The hotkeys a source registered: name -> id."""
    found = {}

    def each(data, hotkey_id, hotkey):
        # a source's hotkeys are registered by its weak reference (libobs/obs-hotkey.c)
        if (host.obs.obs_hotkey_get_registerer_type(hotkey) == OBS_HOTKEY_REGISTERER_SOURCE
                and host.obs.obs_weak_source_references_source(host.obs.obs_hotkey_get_registerer(hotkey), source)):
            found[host.obs.obs_hotkey_get_name(hotkey).decode()] = hotkey_id
        return True

    callback = HOTKEY_ENUM(each)
    host.obs.obs_enum_hotkeys(callback, None)
    return found


def drive_hotkeys(host: Host, swap, instance, out: str, timeout: float) -> dict:
    """The filter's hotkeys as OBS's frontend fires them (rerouted callbacks, which
    obs-websocket's TriggerHotkeyByName uses too): their names; each output frame from a
    press of "next face" until the status line names the new face (every one must be
    swapped); "swap on/off" twice; a key bound to "next face", saved as the scene
    collection saves a filter (obs_save_source) and loaded again (obs_load_source)."""
    o = host.obs
    camera = o.obs_filter_get_parent(swap)   # a filter's hotkeys sit on its source (faceswap_core.obs.hotkeys)
    ids = {name.rsplit(".", 1)[-1]: hotkey_id for name, hotkey_id in source_hotkeys(host, camera).items()}
    report = {"names": sorted(source_hotkeys(host, camera))}
    o.obs_hotkey_enable_callback_rerouting(True)

    fade_s = instance.settings.get("switch_fade_ms", 0) / 1e3

    def frames_until(condition, settle_s: float = 0.0) -> list[str]:
        """Output frames (files) until the condition holds, and two more (and any taken
        in the settle_s after it held)."""
        names, deadline, extra, held_at = [], time.monotonic() + timeout, 2, None
        while (extra > 0 or time.monotonic() < (held_at or 0.0) + settle_s) and time.monotonic() < deadline:
            if held_at is None and condition():
                held_at = time.monotonic()
            if held_at is not None:
                extra -= 1
            name = f"hotkey{len(written) + len(names)}.bgra"
            write_frame(os.path.join(out, name), host.next_frame(), host.width, host.height)
            names.append(name)
        return names

    written: list[str] = []
    report["before"] = frames_until(lambda: True)
    written += report["before"]
    o.obs_hotkey_trigger_routed_callback(ids["next_face"], True)
    o.obs_hotkey_trigger_routed_callback(ids["next_face"], False)
    report["face_in_use_after_next"] = instance.settings.get("face_in_use")
    # until the worker wears the face, and its fade (if any) is over: half a second more
    report["frames"] = frames_until(lambda: "face 1 of " in instance.status_text(), fade_s + 0.5 if fade_s else 0.0)
    written += report["frames"]
    report["status_after_next"] = instance.status_text()
    o.obs_hotkey_trigger_routed_callback(ids["toggle"], True)
    report["enabled_after_toggle"] = instance.settings.get("enabled")
    # the swap turned off: with a fade, the frames of the next second and a half
    turned_off = time.monotonic() + (1.5 if fade_s else 0.0)
    report["fading"] = frames_until(lambda: time.monotonic() > turned_off)
    written += report["fading"]
    report["off"] = report["fading"][-1:]
    o.obs_hotkey_trigger_routed_callback(ids["toggle"], True)
    report["enabled_after_second_toggle"] = instance.settings.get("enabled")
    o.obs_hotkey_trigger_routed_callback(ids["previous_face"], True)
    report["face_in_use_after_previous"] = instance.settings.get("face_in_use")
    o.obs_hotkey_trigger_routed_callback(ids["face_1"], True)
    report["face_in_use_after_face_1"] = instance.settings.get("face_in_use")

    combination = KeyCombination(0, o.obs_key_from_name(b"OBS_KEY_F13"))
    o.obs_hotkey_load_bindings(ids["next_face"], ctypes.byref(combination), 1)
    # the scene collection saves the camera with its filters (obs_save_source), and loads
    # them again (obs_load_source: the camera, then its filters, which register their
    # hotkeys on it at their first video tick, shown or not: this one is never shown);
    # saved again, its bindings are still there
    saved = o.obs_save_source(camera)
    report["saved_hotkeys"] = json.loads(o.obs_data_get_json(saved).decode()).get("hotkeys", {})
    o.obs_data_set_string(saved, b"name", b"camera (loaded)")
    loaded = o.obs_load_source(saved)
    o.obs_data_release(saved)
    again: dict = {}
    wait_for(lambda: again.update(source_hotkeys(host, loaded)) or len(again) == len(report["names"]), timeout)
    resaved = o.obs_save_source(loaded)
    report["resaved_hotkeys"] = json.loads(o.obs_data_get_json(resaved).decode()).get("hotkeys", {})
    o.obs_data_release(resaved)
    next_face = next(hotkey_id for name, hotkey_id in again.items() if name.endswith(".next_face"))
    bindings = o.obs_hotkey_save(next_face)
    holder = o.obs_data_create()
    o.obs_data_set_array(holder, b"bindings", bindings)
    report["loaded_bindings"] = json.loads(o.obs_data_get_json(holder).decode())["bindings"]
    o.obs_data_array_release(bindings)
    o.obs_data_release(holder)
    o.obs_source_release(loaded)
    return report


def stress_ui_callbacks(host: Host, swap, instance, seconds: float) -> dict:
    """A UI-like thread hammers update and get_properties while the graphics thread renders.

    Our callbacks call libobs only through GIL-releasing handles, so neither side can wait
    on the other; a deadlock would hang this host (the test's timeout catches it).
    """
    import threading

    o = host.obs
    counts = {"updates": 0, "properties": 0}
    stop = threading.Event()

    def hammer():
        opacity = 0
        while not stop.is_set():
            opacity = (opacity + 7) % 100
            data = host.data({"opacity_percent_unused": opacity})
            o.obs_data_set_double(data, b"opacity", 0.9 + opacity / 1000)
            o.obs_source_update(swap, data)
            o.obs_data_release(data)
            counts["updates"] += 1
            props = o.obs_source_properties(swap)
            o.obs_properties_destroy(props)
            counts["properties"] += 1

    thread = threading.Thread(target=hammer)
    drawn = instance.frames.results_drawn
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(10)
    return {"stress_hung": thread.is_alive(), "stress_updates": counts["updates"],
            "stress_properties": counts["properties"], "stress_results_drawn": instance.frames.results_drawn - drawn}


def reload_script(host: Host, script, instance, width, height, args) -> dict:
    """Tools > Scripts > reload: unload (workers stop, frames pass through), re-import, load."""
    import importlib

    old_pid = instance.supervisor.worker_pid()
    script.script_unload()
    result = {"unload_removed_channel": channels_held(os.getpid()) == [],
              "unload_stopped_worker": not _alive(old_pid)}
    write_frame(os.path.join(args.out, "unloaded.bgra"), host.next_frame(), width, height)
    result["unloaded_status"] = instance.status_text()
    script = importlib.reload(script)
    script.script_load(None)
    drawn = instance.frames.results_drawn
    result["reload_swapped"] = wait_for(
        lambda: instance.frames.has_result and instance.frames.results_drawn >= drawn + 3, args.timeout)
    result["old_worker_pid"] = old_pid
    result["worker_pid_after_reload"] = instance.supervisor.worker_pid()
    return result


def switch_image(host: Host, image, instance, args) -> dict:
    """Point the image source at a picture of another size: the filter must follow."""
    width, height = image_size(args.second_image)
    data = host.data({"file": os.path.abspath(args.second_image)})
    host.obs.obs_source_update(image, data)
    host.obs.obs_data_release(data)
    ok = wait_for(lambda: instance.frames.size == (width, height) and instance.frames.has_result
                  and instance.frames.results_drawn >= 3, args.timeout)
    return {"resized_swapped": ok, "resized_to": [width, height]}


def hide_and_show(host: Host, source, instance, seconds: float, original, shows: int = 3, frames: int = 10) -> dict:
    """Take the source off the output for `seconds` and put it back, `shows` times (what a
    scene switched away and back does to a camera in it): how many of the first `frames`
    output frames after each return showed the source's own, unswapped picture, and the
    latencies the filter noted from the first hiding on (a frame from before a gap must not
    count its age: the microphone's offset follows them)."""
    import numpy as np

    def picture(frame):
        data, linesize = frame
        return np.frombuffer(data, np.uint8).reshape(host.height, linesize)[:, :host.width * 4].reshape(
            host.height, host.width, 4)[:, :, :3].astype(np.int16)

    reference = picture(original)
    latencies = instance.frames.latencies_ms
    noted = len(latencies)
    unswapped, blank = [], []
    for _ in range(shows):
        host.obs.obs_set_output_source(0, None)
        time.sleep(seconds)
        host.recorded = []
        host.obs.obs_set_output_source(0, source)
        wait_for(lambda: len(host.recorded) >= frames + 1, 20.0)
        seen, host.recorded = host.recorded[:frames + 1], None
        # the first may have been drawn before the source was back: blank
        kinds = ["blank" if picture(frame).max() < 10 else
                 "unswapped" if float(np.abs(picture(frame) - reference).mean()) < 1.0 else "swapped"
                 for frame in seen]
        first = 1 if kinds[0] == "blank" else 0
        unswapped.append(kinds[first:first + frames].count("unswapped"))
        blank.append(kinds[first:].count("blank"))
        time.sleep(1.0)
    return {"unswapped": unswapped, "blank": blank, "latencies_ms": list(latencies)[noted:]}


def measure(host: Host, instance, seconds: float) -> dict:
    """Median graphics-thread frame time (libobs) and our video_render time, over `seconds`."""
    frame_ns, render_ms, latency, worker_ms = [], [], [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)
        frame_ns.append(host.obs.obs_get_average_frame_time_ns())
        if instance is not None:
            render_ms.append(instance.frames.render_ms)
            latency.append(instance.frames.latency_ms)
            worker_ms.append(instance.supervisor.channel.get("process_us") / 1000)
    result = {"obs_frame_ms": round(median(frame_ns) / 1e6, 2)}
    if render_ms:
        result["filter_render_ms"] = round(median(render_ms), 2)
        result["latency_ms"] = round(median(latency), 1)
        result["worker_ms"] = round(median(worker_ms), 1)
        result["results_drawn"] = instance.frames.results_drawn
        result["frames_sent"] = instance.frames.frames_sent
        if instance.frames is instance.camera:
            camera = instance.camera
            result.update(camera_wait_ms=round(camera.wait_ms, 2), camera_work_ms=round(camera.work_ms, 2),
                          own_results=camera.own_results, late_results=camera.late, unwaited=camera.unwaited)
    return result


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else 0


def obs_version() -> str:
    """OBS's version through obspython (on PYTHONPATH), the module OBS scripts import.

    Only a read-only call: SWIG keeps the GIL during libobs calls, so anything that can
    block stays on the ctypes.CDLL handle (see the module docstring).
    """
    try:
        import obspython
    except ImportError:
        return "unknown (obspython is not on PYTHONPATH)"
    return obspython.obs_get_version_string()


def image_size(path: str) -> tuple[int, int]:
    """PNG width and height from its header (the host imports no imaging library)."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("--image must be a PNG (or pass --size)")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


if __name__ == "__main__":
    sys.exit(main())
