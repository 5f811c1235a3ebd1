"""Soak: 720p at 30 fps through the standalone libobs host with the landmark engine.

    .venv/bin/python -m tools.soak --minutes 30 --out /tmp/soak     # the benchmark
    .venv/bin/python -m tools.soak --minutes 2 --out /tmp/soak      # what CI runs
    .venv/bin/python -m tools.soak --minutes 20 --fps 60 --malloc-check --out /tmp/hunt
                                                                                 # a crash hunt

The camera is a 720p frame of a talking-head clip (../shared/media/lp_d3.mp4, scaled to
720 px high and centred on 1280x720) in an image source, or with --source media the clip
itself looping in a media source (an async source, like a webcam); the Face Swap filter
is on it. --no-filter is the control: the same source without the filter. After a warm-up the run samples, every few seconds: resident memory
of the host (libobs + the filter: "OBS") and of the worker, what each video_render drew
(a swap result, the original, nothing), every result's latency (frame staged -> result
on the GPU), restarts and hangs of the worker, and libobs's lagged frames. At the end it
shuts down and checks that no worker, no channel file and no extra libobs allocation is
left. It prints one line of figures and writes them to OUT/soak.json; the exit code is 1
when a limit is broken (memory growth >= 50 MB, a frame not drawn with a result, a
restart, anything left behind).

Without DISPLAY it starts its own Xvfb. The worker is this Python unless --python.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time

from testkit import REPO, pythonpath_env
from testkit.obs_installs import HOST

REPO = str(REPO)
WIDTH, HEIGHT, FPS = 1280, 720, 30
GROWTH_LIMIT_MB = 50.0
STALL_S = 30.0              # libobs's frame counter standing still this long: the host hangs


def make_clip(path: str, seconds: float = 0) -> str:
    """The 720p clip (mp4v), from the shared talking-head clip; made once per path."""
    import cv2
    import numpy as np

    if os.path.exists(path):
        return path
    source = os.path.join(os.path.dirname(REPO), "shared", "media", "lp_d3.mp4")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise SystemExit(f"{source} is absent: the shared test media are not on this machine")
    writer = cv2.VideoWriter(path + ".part.mp4", cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    left = (WIDTH - HEIGHT) // 2
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        canvas[:] = frame[0, 0]
        canvas[:, left:left + HEIGHT] = cv2.resize(frame, (HEIGHT, HEIGHT), interpolation=cv2.INTER_LINEAR)
        writer.write(canvas)
    capture.release()
    writer.release()
    os.replace(path + ".part.mp4", path)
    return path


def make_image(clip: str, path: str) -> str:
    """One 720p frame of the clip as a PNG (the still camera)."""
    import cv2

    capture = cv2.VideoCapture(clip)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read {clip}")
    cv2.imwrite(path, frame)
    return path


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


def run_host(args) -> dict:
    """Inside the host process: libobs, the script, the media source, the filter, sampling."""

    from testkit.fault_host import our_channel_files, our_workers, rss_kb
    from testkit.libobs_host import Host, wait_for

    host = Host(WIDTH, HEIGHT, args.fps, capture=False)
    o = host.obs
    import obs_faceswap
    from faceswap_core.obs import registration

    obs_faceswap.script_load(None)
    if args.source == "media":
        camera = host.create("ffmpeg_source", "camera", {"local_file": os.path.abspath(args.clip), "looping": True,
                                                          "is_local_file": True, "hw_decode": False})
    else:
        camera = host.create("image_source", "camera", {"file": os.path.abspath(args.image)})
    o.obs_set_output_source(0, camera)
    if args.no_filter:
        return control_run(host, camera, args, obs_faceswap)
    swap = host.create("obs_faceswap_filter", "Face Swap", {"source_photo": os.path.abspath(args.photo),
                                                             "python": args.python, "engine": "landmark"})
    o.obs_source_filter_add(camera, swap)
    instance = next(iter(registration.registry().instances.values()))
    renderer, supervisor = instance.renderer, instance.supervisor
    swapping = wait_for(lambda: renderer.has_result and renderer.results_drawn >= 10, 120)
    time.sleep(args.warmup)
    worker = supervisor.worker_pid()
    draws0, lagged0, total0 = dict(renderer.draws), o.obs_get_lagged_frames(), o.obs_get_total_frames()
    results0, restarts0 = renderer.results_drawn, supervisor.restarts
    renderer.latencies_ms.clear()
    latencies, samples = [], []
    started = time.monotonic()
    deadline = started + args.minutes * 60 - args.warmup
    frames_before, still_since = o.obs_get_total_frames(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(args.sample_every)
        frames = o.obs_get_total_frames()
        print(f"soak: {time.monotonic() - started:.0f} s, {frames} frames, {renderer.results_drawn} results, "
              f"{supervisor.restarts} restarts", flush=True)
        if frames != frames_before:
            frames_before, still_since = frames, time.monotonic()
        elif time.monotonic() - still_since >= STALL_S:
            _abort_for_a_core(f"libobs rendered no frame for {time.monotonic() - still_since:.0f} s")
        while renderer.latencies_ms:
            latencies.append(renderer.latencies_ms.popleft())
        samples.append({"t": round(time.monotonic() - started, 1), "obs_rss_mb": round(rss_kb(os.getpid()) / 1024, 1),
                        "worker_rss_mb": round(rss_kb(worker) / 1024, 1), "render_ms": round(renderer.render_ms, 2)})
    measured = time.monotonic() - started
    draws = {key: renderer.draws[key] - draws0[key] for key in draws0}
    result = {
        "minutes": args.minutes, "source": args.source, "warmup_s": args.warmup, "measured_s": round(measured, 1),
        "size": f"{WIDTH}x{HEIGHT}", "fps": args.fps, "swapping": swapping,
        "frames_rendered": sum(draws.values()), "draws": draws,
        "results_drawn": renderer.results_drawn - results0,
        "worker_fps": round((renderer.results_drawn - results0) / measured, 1),
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                       "p99": percentile(latencies, 99), "max": percentile(latencies, 100), "n": len(latencies)},
        "filter_render_ms_sampled": {"p50": percentile([x["render_ms"] for x in samples], 50),
                                     "p99": percentile([x["render_ms"] for x in samples], 99)},
        "obs_lagged_frames": o.obs_get_lagged_frames() - lagged0, "obs_total_frames": o.obs_get_total_frames() - total0,
        "restarts": supervisor.restarts - restarts0, "hangs": supervisor.hangs,
        "same_worker": supervisor.worker_pid() == worker, "render_failed": instance.render_failed,
        "obs_rss_mb": _memory(samples, "obs_rss_mb"), "worker_rss_mb": _memory(samples, "worker_rss_mb"),
        "samples": samples,
    }
    o.obs_source_filter_remove(camera, swap)
    o.obs_source_release(swap)
    o.obs_source_release(camera)
    obs_faceswap.script_unload()
    host.shutdown()
    result["memory_leaks"] = o.bnum_allocs()
    result["clean_exit"] = wait_for(lambda: not our_workers() and not our_channel_files(), 5)
    return result


def control_run(host, camera, args, script) -> dict:
    """The same source and host without the filter: what libobs itself does to memory."""
    from testkit.fault_host import rss_kb

    time.sleep(args.warmup)
    samples, started = [], time.monotonic()
    while time.monotonic() < started + args.minutes * 60 - args.warmup:
        time.sleep(args.sample_every)
        samples.append({"t": round(time.monotonic() - started, 1), "obs_rss_mb": round(rss_kb(os.getpid()) / 1024, 1)})
        print(f"soak: {samples[-1]['t']:.0f} s, {host.obs.obs_get_total_frames()} frames (no filter)", flush=True)
    lagged, total = host.obs.obs_get_lagged_frames(), host.obs.obs_get_total_frames()
    host.obs.obs_source_release(camera)
    script.script_unload()
    host.shutdown()
    return {"minutes": args.minutes, "no_filter": True, "obs_rss_mb": _memory(samples, "obs_rss_mb"),
            "obs_lagged_frames": lagged, "obs_total_frames": total, "memory_leaks": host.obs.bnum_allocs(),
            "samples": samples}


def _memory(samples, key) -> dict:
    values = [sample[key] for sample in samples]
    if not values:
        return {}
    return {"first": values[0], "last": values[-1], "max": max(values), "growth": round(values[-1] - values[0], 1)}


def verdict(result: dict, leak_baseline: int) -> list[str]:
    """The limits the soak holds the filter to; each broken one as a sentence."""
    broken = []
    for key in ("obs_rss_mb", "worker_rss_mb"):
        if result[key].get("growth", 0) >= GROWTH_LIMIT_MB:
            broken.append(f"{key} grew {result[key]['growth']} MB")
    if result["draws"]["original"] or result["draws"]["nothing"]:
        broken.append(f"frames not drawn with a result after the warm-up: {result['draws']}")
    if result["restarts"] or result["hangs"] or not result["same_worker"] or result["render_failed"]:
        broken.append("the worker restarted or the filter failed")
    if not result["swapping"] or result["results_drawn"] == 0:
        broken.append("no swap results")
    if not result["clean_exit"]:
        broken.append("a worker or a channel file outlived the host")
    if result["memory_leaks"] != leak_baseline:
        broken.append(f"libobs reports {result['memory_leaks']} leaks (a bare host: {leak_baseline})")
    return broken


# libobs 29's obs_add_data_path (which a host must call) leaves 2 allocations behind by
# itself; tests/reliability/test_host_faults.py measures the same baseline each run.
LIBOBS_HOST_LEAKS = 2


def _wait_or_abort(host: subprocess.Popen, log_path: str, args) -> int:
    """The host's exit code; a host whose log stops growing is aborted for its stacks.

    The host prints a line per sample; when libobs's graphics thread hangs inside a
    video_render it holds the GIL (the render path keeps it), so no Python thread of the
    host can notice: its log stops. SIGABRT then makes faulthandler print every thread's
    Python stack (no GIL needed) and the kernel write a core.
    """
    patience = max(240.0, 3 * args.sample_every)
    deadline = time.monotonic() + args.minutes * 60 + 300
    size, grown_at = -1, time.monotonic()
    while True:
        try:
            return host.wait(5)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if os.path.getsize(log_path) != size:
            size, grown_at = os.path.getsize(log_path), now
        if now - grown_at > patience or now > deadline:
            print(f"soak host silent for {now - grown_at:.0f} s: aborting it for its stacks and a core dump")
            host.send_signal(signal.SIGABRT)
            try:
                return host.wait(120)
            except subprocess.TimeoutExpired:
                host.kill()
                return host.wait()


def _abort_for_a_core(why: str) -> None:
    """In the host: a frozen libobs is a hang to examine, not to wait out. Every thread's
    Python stack goes to host.log and SIGABRT leaves a core with the native ones."""
    print(f"soak: {why}: the host hangs; aborting for a core dump", flush=True)
    faulthandler.dump_traceback(all_threads=True)
    os.abort()


def _allow_core_dump() -> None:
    """In the host process: a crash writes a core file into OUT (core_pattern permitting)."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds before measuring (default 10%%, 10-60 s)")
    parser.add_argument("--sample-every", type=float, default=0.0, help="seconds between samples (default: 1/60 of the run)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--photo", default=os.path.join(os.path.dirname(REPO), "shared", "media", "fr_obama.jpg"))
    parser.add_argument("--python", default=sys.executable, help="the worker Python")
    parser.add_argument("--clip", default="")
    parser.add_argument("--image", default="")
    parser.add_argument("--source", choices=("image", "media"), default="image",
                        help="image: a still 720p frame (default; libobs's media source itself grows a few "
                             "MB per minute, see --no-filter); media: the clip, looping")
    parser.add_argument("--no-filter", action="store_true", help="a control run: the same source, no filter")
    parser.add_argument("--fps", type=int, default=FPS, help="libobs's frame rate (a crash hunt renders faster)")
    parser.add_argument("--malloc-check", action="store_true",
                        help="glibc's checking allocator in the host and worker (MALLOC_CHECK_=3, freed memory "
                             "overwritten): heap corruption aborts where it is noticed, not later")
    parser.add_argument("--host", action="store_true", help=argparse.SUPPRESS)   # the child process
    args = parser.parse_args(argv)
    args.warmup = args.warmup or min(60.0, max(10.0, args.minutes * 6))
    args.sample_every = args.sample_every or max(1.0, args.minutes)
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    if args.host:
        # A crash inside libobs's threads leaves no Python traceback by itself: print every
        # thread's Python stack (which of our lines the graphics thread was on) to host.log.
        faulthandler.enable(all_threads=True)
        result = run_host(args)
        with open(os.path.join(args.out, "soak.json"), "w") as handle:
            json.dump(result, handle, indent=1)
        return 0
    args.clip = args.clip or make_clip(os.path.join(args.out, "camera-720p.mp4"))
    args.image = args.image or make_image(args.clip, os.path.join(args.out, "camera-720p.png"))
    env = pythonpath_env(os.environ, HOST.scripting_dir)
    if args.malloc_check:
        env.update(LD_PRELOAD="libc_malloc_debug.so.0", MALLOC_CHECK_="3", MALLOC_PERTURB_="165")
    xvfb = None
    if not env.get("DISPLAY"):
        from testkit import helpers

        xvfb, env["DISPLAY"] = helpers.start_xvfb()
    try:
        command = [sys.executable, "-m", "tools.soak", "--host", "--out", args.out, "--minutes", str(args.minutes),
                   "--warmup", str(args.warmup), "--sample-every", str(args.sample_every), "--photo", args.photo,
                   "--python", args.python, "--clip", args.clip, "--image", args.image, "--source", args.source,
                   "--fps", str(args.fps)] + (["--no-filter"] if args.no_filter else [])
        with open(os.path.join(args.out, "host.log"), "wb") as log:
            host = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=args.out,
                                    preexec_fn=_allow_core_dump)
            code = _wait_or_abort(host, log.name, args)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
    if code != 0:
        cores = [name for name in os.listdir(args.out) if name.startswith("core")]
        print(f"soak host failed with {code}; see {args.out}/host.log (Python stacks of every thread)"
              + (f" and the core dump {os.path.join(args.out, cores[0])} (gdb {sys.executable} CORE, then "
                 "'thread apply all bt')" if cores else ""))
        return 1
    with open(os.path.join(args.out, "soak.json")) as handle:
        result = json.load(handle)
    if args.no_filter:
        print(f"control {result['minutes']} min, no filter: OBS RSS {result['obs_rss_mb']}, "
              f"lagged {result['obs_lagged_frames']}/{result['obs_total_frames']}, leaks {result['memory_leaks']}")
        return 0
    broken = verdict(result, LIBOBS_HOST_LEAKS)
    latency = result["latency_ms"]
    print(f"soak {result['minutes']} min {result['size']}@{result['fps']} ({result['source']} source): {result['frames_rendered']} frames rendered, "
          f"draws {result['draws']}, worker {result['worker_fps']} fps, latency p50/p95/p99 "
          f"{latency['p50']}/{latency['p95']}/{latency['p99']} ms, OBS RSS {result['obs_rss_mb']}, "
          f"worker RSS {result['worker_rss_mb']}, filter render ms {result['filter_render_ms_sampled']}, lagged {result['obs_lagged_frames']}/{result['obs_total_frames']}, "
          f"restarts {result['restarts']}, leaks {result['memory_leaks']}")
    for sentence in broken:
        print(f"BROKEN: {sentence}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
