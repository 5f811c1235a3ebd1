"""Latency measured from outside the filter, in a standalone libobs host.

    DISPLAY=:90 PYTHONPATH=/usr/lib/x86_64-linux-gnu/obs-scripting \\
        python -m testkit.latency_host --clip numbered.mp4 --size 1280x720 --fps 30 \\
            --photo a.jpg --path camera --out DIR

A media source plays a clip whose frames carry their number as a column of black and
white squares at the left edge (away from the face; tools/bench_latency.py makes it).
OBS's raw video callback reads, for every output frame, its timestamp and the number it
shows. The filter is switched off and on in turns (phases) on one continuous playback:
off phases give where each number shows without the filter, on phases with it; the
difference is the delay the filter adds in the output's timeline, the one a viewer and
the audio see. `--path render` puts OBS's Color Correction filter before Face Swap,
which sends frames down the GPU read-back path; `--delay-filter MS` measures OBS's own
Video Delay (Async) filter instead, to check the method against a known delay.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time

from testkit.libobs_host import RAW_CALLBACK, Host, wait_for

BITS = 12
SQUARE = 20            # px per square, in a column from CODE_TOP down the left edge
CODE_LEFT = 10
CODE_TOP = 40
CODE_PITCH = 28


def code_centres(height: int) -> list[tuple[int, int]]:
    """(x, y) of each bit's square centre, most significant first."""
    scale = height / 720
    return [(int((CODE_LEFT + SQUARE // 2) * scale), int((CODE_TOP + index * CODE_PITCH + SQUARE // 2) * scale))
            for index in range(BITS)]


class NumberReader:
    """The raw video callback: (timestamp ns, number shown, phase) per output frame."""

    def __init__(self, height: int):
        self.centres = code_centres(height)
        self.phase = -1
        self.frames: list[tuple[int, int, int]] = []
        self.callback = RAW_CALLBACK(self._on_frame)

    def _on_frame(self, param, frame):
        video = frame.contents
        base, linesize = video.data[0], video.linesize[0]
        number = 0
        for x, y in self.centres:
            number = (number << 1) | (ctypes.c_uint8.from_address(base + y * linesize + x * 4 + 1).value > 128)
        self.frames.append((video.timestamp, number, self.phase))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clip", required=True)
    parser.add_argument("--size", required=True)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--photo", default="")
    parser.add_argument("--python", default="")
    parser.add_argument("--path", choices=("camera", "render"), default="camera")
    parser.add_argument("--delay-filter", type=int, default=0, help="measure OBS's Video Delay (Async) of this many ms")
    parser.add_argument("--phases", type=int, default=6, help="off, on, off, on, ...")
    parser.add_argument("--phase-seconds", type=float, default=2.5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    width, height = (int(value) for value in args.size.split("x"))
    host = Host(width, height, fps=args.fps, capture=False)
    o = host.obs
    reader = NumberReader(height)
    o.obs_add_raw_video_callback(None, reader.callback, None)
    import obs_faceswap
    from faceswap_core.obs import registration

    obs_faceswap.script_load(None)
    camera = host.create("ffmpeg_source", "camera", {"local_file": os.path.abspath(args.clip), "looping": False,
                                                      "is_local_file": True, "hw_decode": False})
    filters = []
    if args.path == "render":
        filters.append(host.create("color_filter_v2", "Color Correction", {}))
    instance = None
    if args.delay_filter:
        measured = host.create("async_delay_filter", "Video Delay", {"delay_ms": args.delay_filter})
    else:
        values = {"source_photo": os.path.abspath(args.photo)}
        if args.python:
            values["python"] = args.python
        measured = host.create("obs_faceswap_filter", "Face Swap", values)
    filters.append(measured)
    for each in filters:
        o.obs_source_filter_add(camera, each)
    o.obs_set_output_source(0, camera)
    if not args.delay_filter:
        instance = next(iter(registration.registry().instances.values()))
        wait_for(lambda: instance.frames.has_result and instance.frames.results_drawn >= 10, 60)
    summary = {"width": width, "height": height, "fps": args.fps, "path": args.path, "phases": []}
    for phase in range(args.phases):
        on = phase % 2 == 1
        o.obs_source_set_enabled(measured, on)
        reader.phase = phase
        lagged, total = o.obs_get_lagged_frames(), o.obs_get_total_frames()
        answered = _worker_answers(instance) if on else None
        counts = _camera_counts(instance) if on else None
        samples = {"obs_frame_ms": [], "filter_busy_ms": [], "filter_wait_ms": [], "worker_ms": []}
        deadline = time.monotonic() + args.phase_seconds
        while time.monotonic() < deadline:
            time.sleep(0.1)
            samples["obs_frame_ms"].append(o.obs_get_average_frame_time_ns() / 1e6)
            if instance is not None and on:
                frames = instance.frames
                if frames is instance.camera:
                    samples["filter_busy_ms"].append(frames.work_ms)
                    samples["filter_wait_ms"].append(frames.wait_ms)
                else:
                    samples["filter_busy_ms"].append(frames.render_ms)
                    samples["filter_wait_ms"].append(0.0)
                channel = instance.supervisor.channel
                samples["worker_ms"].append(channel.get("process_us") / 1000 if channel is not None else 0.0)
        spent = _worker_answers(instance) if on else None
        summary["phases"].append({
            "on": on, "lagged": o.obs_get_lagged_frames() - lagged, "frames": o.obs_get_total_frames() - total,
            "worker_cpu_ms": _cpu_per_answer(answered, spent),
            **_counts_since(counts, _camera_counts(instance) if on else None),
            "path": instance.path_name() if instance is not None and on else "",
            **{key: _median(values) for key, values in samples.items()}})
    reader.phase = -1
    summary["frames"] = reader.frames
    o.obs_remove_raw_video_callback(reader.callback, None)
    o.obs_set_output_source(0, None)
    for each in filters:
        o.obs_source_filter_remove(camera, each)
        o.obs_source_release(each)
    o.obs_source_release(camera)
    obs_faceswap.script_unload()
    host.shutdown()
    with open(os.path.join(args.out, "summary.json"), "w") as handle:
        json.dump(summary, handle)
    return 0


def _worker_answers(instance) -> tuple[float, int] | None:
    """(the worker process's CPU seconds so far, all its threads; results it has published),
    or None where there is no worker to read (the Video Delay check)."""
    if instance is None or instance.supervisor.channel is None:
        return None
    pid = instance.supervisor.worker_pid()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), instance.supervisor.channel.get("out_seq")


def _camera_counts(instance) -> dict | None:
    """The camera path's own tallies so far: frames handed over, drawn with their own
    answer, with an earlier one (theirs late), handed over without a wait."""
    if instance is None or instance.frames is not instance.camera:
        return None
    camera = instance.camera
    return {"handed": camera.frames_sent, "own": camera.own_results, "late": camera.late,
            "unwaited": camera.unwaited}


def _counts_since(before, after) -> dict:
    if before is None or after is None:
        return {}
    return {key: after[key] - before[key] for key in after}


def _cpu_per_answer(before, after) -> float | None:
    """The worker's CPU per published result over a phase, in ms: what the engine costs the
    streamer's CPU, frame for frame (the goal: at most 40% of a frame's interval)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) * 1e3 / (after[1] - before[1]), 2)


def _median(values):
    values = sorted(values)
    return round(values[len(values) // 2], 3) if values else None


if __name__ == "__main__":
    sys.exit(main())
