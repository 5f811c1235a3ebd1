"""Fault and lifecycle scenarios in the standalone libobs host (testkit/libobs_host.py).

    DISPLAY=:90 PYTHONPATH=/usr/lib/x86_64-linux-gnu/obs-scripting \\
        python -m testkit.fault_host --out DIR --image face.png --photo a.jpg \\
        --python PY --scenario sigstop --scenario toggle ...

One libobs start for several scenarios (CI time). Each scenario adds its own filter(s)
to its own source, provokes one fault, records what it saw, and removes what it added;
a scenario that raises is recorded with its traceback and the next one runs. At the
end the host shuts libobs down (or, with --exit-busy, exits while a worker is busy) and
records what is left: worker processes, channels, libobs's memory-leak count, and
every socket call the OBS side made (a Python audit hook). All goes to summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback

from faceswap_core.link import liveness
from testkit import clips
from testkit.libobs_host import Host, channels_held, image_size, wait_for

class SocketAudit:
    """Every socket.* audit event of this process (the OBS side's Python included)."""

    def __init__(self):
        self.events: list[str] = []
        self._lock = threading.Lock()
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if event.startswith("socket."):
            with self._lock:
                self.events.append(f"{event} {args!r}"[:300])


class Bench:
    """The host plus the helpers scenarios share: sources, filters, frames, checks."""

    def __init__(self, host: Host, args):
        self.host = host
        self.o = host.obs
        self.args = args
        o = self.o
        from faceswap_core.obs import registration

        self.registry = registration.registry()
        self.scene = o.obs_scene_create(b"reliability")
        o.obs_set_output_source(0, o.obs_scene_get_source(self.scene))
        self.count = 0

    # -- sources and filters ----------------------------------------------------------
    def camera(self, image: str | None = None):
        """The camera shown in the output scene (only shown sources render): an image
        source (the render path), or with --camera-kind media a media source playing
        the picture as NV12 video (an async source: the camera path)."""
        self.count += 1
        source = self.host.create(*self.camera_settings(image or self.args.image, f"camera{self.count}"))
        self.o.obs_scene_add(self.scene, source)
        return source

    def camera_settings(self, image: str, name: str | None = None) -> tuple:
        """(kind, name, settings) of a camera showing `image`; settings alone update one."""
        if self.args.camera_kind == "media":
            clip = clips.still_clip(os.path.abspath(image), os.path.join(self.args.out, "clips"), "nv12")
            return "ffmpeg_source", name, {"local_file": clip, "looping": True, "is_local_file": True,
                                           "hw_decode": False}
        return "image_source", name, {"file": os.path.abspath(image)}

    def add_filter(self, source, settings: dict | None = None, json_text: str | None = None):
        """The Face Swap filter on `source`; returns (filter source, FaceSwapFilter)."""
        before = set(self.registry.instances)
        if json_text is not None:
            data = self.o.obs_data_create_from_json(json_text.encode())
            swap = self.o.obs_source_create_private(b"obs_faceswap_filter", b"Face Swap", data)
            self.o.obs_data_release(data)
        else:
            values = {"source_photo": os.path.abspath(self.args.photo), "python": self.args.python}
            values.update(settings or {})
            swap = self.host.create("obs_faceswap_filter", f"swap{self.count}", values)
        self.o.obs_source_filter_add(source, swap)
        (key,) = set(self.registry.instances) - before
        return swap, self.registry.instances[key]

    def remove(self, source, swap) -> float:
        """Remove and release the filter and its source; seconds the removal blocked."""
        started = time.monotonic()
        self.o.obs_source_filter_remove(source, swap)
        self.o.obs_source_release(swap)
        blocked = time.monotonic() - started
        self.remove_source(source)
        return blocked

    def remove_source(self, source) -> None:
        self.o.obs_source_remove(source)   # out of the scene
        self.o.obs_source_release(source)

    def update(self, swap, values: dict) -> None:
        data = self.host.data(values)
        self.o.obs_source_update(swap, data)
        self.o.obs_data_release(data)

    def wait_swapped(self, instance, more: int = 3, timeout: float | None = None) -> bool:
        drawn = instance.frames.results_drawn
        return wait_for(lambda: instance.frames.has_result and instance.frames.results_drawn >= drawn + more,
                        timeout or self.args.timeout)

    def status(self, swap) -> str:
        """Press "Refresh status" and read the status field, as a user would."""
        o = self.o
        props = o.obs_source_properties(swap)
        button = o.obs_properties_get(props, b"refresh_status")
        if button:
            o.obs_property_button_clicked(button, swap)
        settings = o.obs_source_get_settings(swap)
        shown = (o.obs_data_get_string(settings, b"status") or b"").decode("utf-8", "replace")
        o.obs_data_release(settings)
        o.obs_properties_destroy(props)
        return shown

    def frame_is_original(self, instance, timeout: float = 10.0) -> bool:
        """Whether the frames drawn from the next one on are the camera untouched (draw
        counters). A frame already in the filter now (the camera path may be waiting for
        its answer) finishes as it began."""
        frames = instance.frames
        begun = sum(frames.draws.values())
        wait_for(lambda: sum(frames.draws.values()) > begun, timeout)
        drawn = dict(frames.draws)
        ok = wait_for(lambda: frames.draws["original"] >= drawn["original"] + 2, timeout)
        return ok and frames.draws["result"] == drawn["result"]


def _alive(pid) -> bool:
    """The link's own rule (a zombie is gone); no pid yet is no process."""
    return bool(pid) and liveness.pid_alive(pid)


def our_workers() -> list[int]:
    """Worker processes whose parent is this host."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z" and b"faceswap_core.worker" in command:
            found.append(int(entry))
    return found


def our_channel_files() -> list[str]:
    """The channels this host holds (memfds, or files in /dev/shm)."""
    return channels_held(os.getpid())


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def settle(bench: Bench, timeout: float = 12.0) -> dict:
    """After a scenario: no worker of ours and no channel of ours may remain.

    libobs destroys removed filters one after another on one thread, and each may give its
    worker the supervisor's stop grace (1 s) before killing it: eight filters can take 9 s.
    Scenarios that promise a prompt exit check their own times."""
    ok = wait_for(lambda: not our_workers() and not our_channel_files(), timeout)
    return {"clean": ok, "stray_workers": our_workers(), "stray_channels": our_channel_files()}


# -- scenarios -----------------------------------------------------------------------------------
def scenario_sigstop(bench: Bench) -> dict:
    """SIGSTOP: the filter notices within HANG_S, draws originals, replaces the worker."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}
    supervisor = instance.supervisor
    pid = supervisor.worker_pid()
    os.kill(pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    result["noticed"] = wait_for(lambda: not supervisor.worker_up, 5.0)
    result["noticed_after_s"] = round(time.monotonic() - stopped_at, 2)
    result["original_after_notice"] = bench.frame_is_original(instance)
    result["replaced"] = wait_for(lambda: supervisor.worker_up and supervisor.worker_pid() not in (None, pid), 10)
    result["swapped_again"] = bench.wait_swapped(instance)
    result["swapped_again_after_s"] = round(time.monotonic() - stopped_at, 2)
    result["stopped_worker_gone"] = wait_for(lambda: not _alive(pid), 3)
    result["hangs"] = supervisor.hangs
    result["status"] = bench.status(swap)
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_sigkill_in_flight(bench: Bench) -> dict:
    """SIGKILL while a frame is in the worker's hands: originals, then a new worker."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.slow_python})
    result = {"swapped_first": bench.wait_swapped(instance, more=1)}
    supervisor = instance.supervisor
    channel = supervisor.channel
    result["in_flight"] = wait_for(lambda: channel.get("in_seq") != channel.get("in_ack"), 15)
    pid = supervisor.worker_pid()
    os.kill(pid, signal.SIGKILL)
    # generous: on a busy machine the supervisor's thread and the camera's frames come late
    result["original_after_kill"] = wait_for(lambda: not supervisor.worker_up, 10.0) and bench.frame_is_original(instance)
    result["swapped_again"] = bench.wait_swapped(instance, more=1)
    result["restarts"] = supervisor.restarts
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_engine_raises(bench: Bench) -> dict:
    """The engine raises on every 3rd frame: the same worker keeps swapping the others."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.raising_python})
    result = {"swapped_first": bench.wait_swapped(instance)}
    pid = instance.supervisor.worker_pid()
    result["swapped_later"] = bench.wait_swapped(instance, more=20)
    result["same_worker"] = instance.supervisor.worker_pid() == pid
    result["restarts"] = instance.supervisor.restarts
    result["status"] = bench.status(swap)
    result["render_failed"] = instance.render_failed
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_corrupt_header(bench: Bench) -> dict:
    """A worker writing garbage into the header for 4 s: OBS renders on, never fails."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.corrupt_python})
    wait_for(lambda: instance.supervisor.worker_up and instance.supervisor.channel.state() == 3, 20)
    renderer = instance.frames
    drawn_before = dict(renderer.draws)
    time.sleep(4.0)
    result = {"render_failed": instance.render_failed,
              "draws": {k: renderer.draws[k] - drawn_before[k] for k in renderer.draws},
              "results_drawn": renderer.results_drawn, "hangs": instance.supervisor.hangs,
              "restarts": instance.supervisor.restarts, "status": bench.status(swap)}
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_wrong_size(bench: Bench) -> dict:
    """Every result claims the wrong size: none is drawn, the camera shows unchanged."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.wrong_size_python})
    channel = instance.supervisor.channel
    wait_for(lambda: channel.get("out_seq") >= 5, 30)
    time.sleep(1.0)
    result = {"out_seq": channel.get("out_seq"), "results_drawn": instance.frames.results_drawn,
              "render_failed": instance.render_failed, "draws": dict(instance.frames.draws)}
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_bad_python(bench: Bench) -> dict:
    """A missing interpreter and one without the project: clear status, slow retries."""
    missing_cam, lacking_cam = bench.camera(), bench.camera()
    missing, missing_filter = bench.add_filter(missing_cam, {"python": "/nonexistent/.venv/bin/python"})
    lacking, lacking_filter = bench.add_filter(lacking_cam, {"python": bench.args.bare_python})
    watched_s = 8.0
    time.sleep(watched_s)
    result = {"watched_s": watched_s,
              "missing_status": bench.status(missing), "missing_attempts": missing_filter.supervisor.start_attempts,
              "lacking_status": bench.status(lacking), "lacking_attempts": lacking_filter.supervisor.start_attempts,
              "original_shown": bench.frame_is_original(missing_filter) and bench.frame_is_original(lacking_filter)}
    bench.remove(missing_cam, missing)
    bench.remove(lacking_cam, lacking)
    return result


def scenario_toggle(bench: Bench) -> dict:
    """Enable/disable 200 times (the eye icon and the setting), then it still swaps."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}
    for index in range(200):
        bench.o.obs_source_set_enabled(swap, index % 2 == 1)
        if index % 10 == 0:
            bench.update(swap, {"enabled": index % 20 != 0})
        time.sleep(0.005)
    bench.o.obs_source_set_enabled(swap, True)
    bench.update(swap, {"enabled": True})
    result["swapped_after"] = bench.wait_swapped(instance)
    result["workers"] = len(our_workers())
    result["restarts"] = instance.supervisor.restarts
    result["render_failed"] = instance.render_failed
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_remove_in_flight(bench: Bench) -> dict:
    """Remove the filter while the worker holds a frame (a slow engine)."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.slow_python})
    result = {"swapped_first": bench.wait_swapped(instance, more=1)}
    channel = instance.supervisor.channel
    pid = instance.supervisor.worker_pid()
    result["in_flight"] = wait_for(lambda: channel.get("in_seq") != channel.get("in_ack"), 5)
    removed_at = time.monotonic()
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    # OBS 29 destroys a removed source on its destruction task thread, soon after
    result["worker_gone"] = wait_for(lambda: not _alive(pid), 3)
    result["channel_gone"] = wait_for(lambda: not our_channel_files(), 3)
    result["gone_after_s"] = round(time.monotonic() - removed_at, 2)
    return result


def scenario_remove_race(bench: Bench) -> dict:
    """Take the filter off its source and put it back 600 times while it renders, from
    another thread than the graphics thread (OBS's UI thread does this). libobs clears
    the filter's parent when it is removed, with no lock against a video_render running
    at that moment; a render that then asks libobs to draw the parent reads NULL."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}
    chance = random.Random(6)
    # OBS's UI thread needs no GIL to remove a filter; this thread does, and by default gets
    # it only between renders. Handing the GIL over every 20 us lets the removals land
    # inside renders, as the UI thread's do.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(2e-5)
    try:
        for _ in range(600):
            bench.o.obs_source_filter_remove(camera, swap)
            time.sleep(chance.uniform(0.0, 0.006))
            bench.o.obs_source_filter_add(camera, swap)
            time.sleep(chance.uniform(0.0, 0.006))
    finally:
        sys.setswitchinterval(interval)
    result["swapped_after"] = bench.wait_swapped(instance)
    result["render_failed"] = instance.render_failed
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_render_raises(bench: Bench) -> dict:
    """A bug in our video_render (or filter_video): reported once, the camera passes through
    from then on."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}

    def broken(*args):
        raise RuntimeError("a bug in the render path")

    instance.frames._exchange = broken       # the path in use: render.py's or camera.py's
    result["failed"] = wait_for(lambda: instance.render_failed, 5)
    frames = bench.host.frames_seen
    result["frames_after"] = wait_for(lambda: bench.host.frames_seen >= frames + 30, 10)
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_photo_churn(bench: Bench) -> dict:
    """A new photo on every frame for 5 s, then it settles on one and swaps."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}
    pid = instance.supervisor.worker_pid()
    photos = [os.path.abspath(p) for p in bench.args.churn_photo] + [os.path.abspath(bench.args.photo)]
    deadline, changes = time.monotonic() + 5.0, 0
    while time.monotonic() < deadline:
        bench.update(swap, {"source_photo": photos[changes % len(photos)], "face_index": changes % 2})
        changes += 1
        time.sleep(1 / 30)
    bench.update(swap, {"source_photo": os.path.abspath(bench.args.photo), "face_index": 0})
    result.update(changes=changes, swapped_after=bench.wait_swapped(instance),
                  same_worker=instance.supervisor.worker_pid() == pid, render_failed=instance.render_failed,
                  worker_rss_mb=round(rss_kb(pid) / 1024, 1), status=bench.status(swap))
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_eight(bench: Bench) -> dict:
    """Eight sources, each with its own filter and worker, all swapping at once."""
    pairs = [(camera, *bench.add_filter(camera)) for camera in [bench.camera(bench.args.small_image) for _ in range(8)]]
    result = {"all_swapped": all(bench.wait_swapped(instance, timeout=90) for _, _, instance in pairs)}
    result["workers"] = len(our_workers())
    result["channels"] = len(our_channel_files())
    result["distinct_channels"] = len({instance.supervisor.channel.address for _, _, instance in pairs})
    result["render_failed"] = any(instance.render_failed for _, _, instance in pairs)
    result["remove_blocked_s"] = round(sum(bench.remove(camera, swap) for camera, swap, _ in pairs), 2)
    return result


def scenario_resize(bench: Bench) -> dict:
    """The camera changes size 6 times mid-stream (bigger than 1080p once): it follows."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance), "sizes": []}
    for image in bench.args.resize_image * 2:
        size = image_size(image)
        bench.update(camera, bench.camera_settings(image)[2])
        ok = wait_for(lambda: instance.frames.size == size, 10) and bench.wait_swapped(instance)
        result["sizes"].append([*size, ok])
    result["render_failed"] = instance.render_failed
    result["workers"] = len(our_workers())
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_malformed_settings(bench: Bench) -> dict:
    """Saved settings of the wrong types, missing keys, a deleted photo: defaults + a status."""
    results = {}
    cases = {
        "wrong_types": json.dumps({"enabled": "yes", "face_index": "two", "opacity": [1], "max_faces": 1e300,
                                   "mouth_mask_size": None, "engine": 7, "source_photo": 12,
                                   "python": bench.args.python}),
        "missing_keys": json.dumps({"python": bench.args.python}),
        "deleted_photo": json.dumps({"source_photo": "/nonexistent/deleted.jpg", "python": bench.args.python}),
        "unknown_engine": json.dumps({"source_photo": os.path.abspath(bench.args.photo), "engine": "bogus",
                                      "python": bench.args.python}),
        "out_of_range": json.dumps({"source_photo": os.path.abspath(bench.args.photo), "face_index": -5,
                                    "opacity": 7.5, "max_faces": 10 ** 12, "python": bench.args.python}),
    }
    for name, text in cases.items():
        camera = bench.camera()
        swap, instance = bench.add_filter(camera, json_text=text)
        supervisor = instance.supervisor
        settled = wait_for(lambda: supervisor.worker_up and supervisor.channel.state() in (2, 3, 4), 30)
        if name in ("unknown_engine", "out_of_range"):
            settled = settled and bench.wait_swapped(instance, timeout=20)
        results[name] = {"settled": settled, "settings": instance.settings, "status": bench.status(swap),
                         "state": supervisor.channel.state(), "restarts": supervisor.restarts,
                         "render_failed": instance.render_failed}
        bench.remove(camera, swap)
    return results


def scenario_network(bench: Bench) -> dict:
    """A worker run with Python audit hooks: no socket call, nothing unpickled."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.audit_python})
    result = {"swapped": bench.wait_swapped(instance, more=10)}
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_reload(bench: Bench) -> dict:
    """Tools > Scripts > Reload while swapping: workers stop, then start again."""
    import importlib

    import obs_faceswap

    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}
    old_pid = instance.supervisor.worker_pid()
    for _ in range(3):
        obs_faceswap.script_unload()
        obs_faceswap = importlib.reload(obs_faceswap)
        obs_faceswap.script_load(None)
    result["old_worker_gone"] = wait_for(lambda: not _alive(old_pid), 3)
    result["swapped_after"] = bench.wait_swapped(instance)
    result["workers"] = len(our_workers())
    result["channels"] = len(our_channel_files())   # the old ones closed, only the new one left
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


def scenario_shrink_channel(bench: Bench) -> dict:
    """While the filter swaps, another process of the user tries to shrink and grow its
    channel through /proc/<host>/fd/N: refused, and the same worker swaps on (no SIGBUS)."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera)
    result = {"swapped_first": bench.wait_swapped(instance)}
    pid = instance.supervisor.worker_pid()
    (channel,) = our_channel_files()
    attack = subprocess.run([sys.executable, "-m", "testkit.shrink_channel", channel], capture_output=True, text=True, timeout=30)
    result["attack"] = json.loads(attack.stdout) if attack.returncode == 0 else attack.stderr[-2000:]
    result["swapped_after"] = bench.wait_swapped(instance, more=10)
    result["same_worker"] = instance.supervisor.worker_pid() == pid
    result["restarts"] = instance.supervisor.restarts
    result["render_failed"] = instance.render_failed
    result["remove_blocked_s"] = round(bench.remove(camera, swap), 2)
    return result


SCENARIOS = {name[len("scenario_"):].replace("_", "-"): function
             for name, function in globals().items() if name.startswith("scenario_")}


def exit_while_busy(bench: Bench) -> dict:
    """OBS exits while a worker holds a frame: the filter is destroyed by obs_shutdown."""
    camera = bench.camera()
    swap, instance = bench.add_filter(camera, {"python": bench.args.slow_python})
    swapped = bench.wait_swapped(instance, more=1)
    channel = instance.supervisor.channel
    in_flight = wait_for(lambda: channel.get("in_seq") != channel.get("in_ack"), 5)
    bench.o.obs_source_release(swap)      # the scene and the source hold it until shutdown
    bench.o.obs_source_release(camera)
    return {"swapped_first": swapped, "in_flight": in_flight, "worker_pid": instance.supervisor.worker_pid()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--image", required=True, help="the camera picture (PNG)")
    parser.add_argument("--small-image", default="", help="a smaller camera picture for the eight-source scenario")
    parser.add_argument("--resize-image", action="append", default=[], help="PNGs the camera switches between")
    parser.add_argument("--photo", required=True)
    parser.add_argument("--churn-photo", action="append", default=[])
    parser.add_argument("--python", required=True, help="a healthy worker Python")
    for fault in ("slow", "raising", "corrupt", "wrong-size", "bare", "audit"):
        parser.add_argument(f"--{fault}-python", default="")
    parser.add_argument("--scenario", action="append", default=[], choices=sorted(SCENARIOS))
    parser.add_argument("--exit-busy", action="store_true", help="exit while a worker is busy (instead of tidily)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--camera-kind", choices=("image", "media"), default="image",
                        help="image: the render path; media: an async source, the camera path")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    summary: dict = {"scenarios": {}}
    width, height = image_size(args.image)
    host = Host(width, height)
    sockets = SocketAudit()
    import obs_faceswap

    obs_faceswap.script_load(None)
    bench = Bench(host, args)
    summary["host_rss_mb_start"] = round(rss_kb(os.getpid()) / 1024, 1)
    for name in args.scenario:
        started = time.monotonic()
        try:
            result = SCENARIOS[name](bench)
        except Exception:
            result = {"exception": traceback.format_exc()}
        result["after"] = settle(bench)
        result["seconds"] = round(time.monotonic() - started, 1)
        summary["scenarios"][name] = result
        print(f"scenario {name}: {result['seconds']} s", flush=True)
    if args.exit_busy:
        summary["exit_busy"] = exit_while_busy(bench)
    else:
        obs_faceswap.script_unload()
    bench.o.obs_set_output_source(0, None)
    bench.o.obs_scene_release(bench.scene)
    started = time.monotonic()
    host.shutdown()
    summary["shutdown_s"] = round(time.monotonic() - started, 2)
    summary["memory_leaks"] = host.obs.bnum_allocs()
    summary["after_exit"] = settle(bench)
    summary["instances_left"] = len(bench.registry.instances)
    summary["obs_side_socket_calls"] = sockets.events
    summary["threads_left"] = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    with open(os.path.join(args.out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=1, default=str)
    print(f"Number of memory leaks: {summary['memory_leaks']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
