"""The invisible mark's cost and survival, for BENCHMARKS.md.

  python -m tools.bench_mark [--seconds 3] [--rounds 5] [--sessions 0]

Cost: embed and read milliseconds per frame at 720p and 1080p (medians of rounds), and
the bitrate x264 needs for the same quality (CRF 23) with the mark against without.
Survival: talking-head clips from ../shared/media scaled to 720p (and 1080p), marked,
written losslessly, put through each encode, read by `faceswap verify`'s own reader:
the share of single frames and of one-second windows that decode to the session, and the
reading's seconds; occ_wave (a small face before fairy lights) at low bitrates, marked and
not. Then what reposts do to the picture's geometry (testkit.encodes' REFRAMES), each after
x264 at 2.5 Mbit/s, and VP9 at 500 kbit/s. With --sessions N, how many of N random
sessions are found in the whole of occ_wave (58 frames) at its two low bitrates: a session's
bits decide which cells carry which sign, so a marginal reading passes for some and not others.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import cv2
import numpy as np

from faceswap_core.media import ffmpeg_executable
from faceswap_core.provenance import mark
from faceswap_core.provenance.verify import read_size, read_video_mark
from testkit.encodes import REFRAMES, encode, rate, reframed
from testkit.judge import MEDIA

CLIPS = ("lp_d12.mp4", "lp_d3.mp4", "lp_d18.mp4")
BUSY_CLIP = "occ_wave.mp4"      # 540x720: a small face before fairy lights, the hardest background here


def frames_at(size, seconds: float, clips=CLIPS) -> list[np.ndarray]:
    """`seconds` of each clip, scaled to size (None: as it is)."""
    per_clip = int(30 * seconds)
    out = []
    for name in clips:
        capture = cv2.VideoCapture(str(MEDIA / name))
        for _ in range(per_clip):
            ok, frame = capture.read()
            if not ok:
                break
            out.append(frame if size is None else cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC))
        capture.release()
    return out


def write_lossless(frames, path) -> str:
    height, width = frames[0].shape[:2]
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
                    f"{width}x{height}", "-r", "30", "-i", "-", "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast",
                    "-pix_fmt", "yuv444p", path], input=b"".join(f.tobytes() for f in frames), check=True)
    return path


def timings(rounds: int) -> list[str]:
    rows = []
    marker = mark.Marker(bytes([1, 2, 3]))
    reader = mark.MarkReader()
    for size in ((1280, 720), (1920, 1080)):
        frames = frames_at(size, 1 / 3)
        marker.embed(frames[0].copy())          # the change for this size is made once per session
        embed, read = [], []
        for _ in range(rounds):
            copies = [frame.copy() for frame in frames]
            started = time.perf_counter()
            for frame in copies:
                marker.embed(frame, out=frame)
            embed.append((time.perf_counter() - started) / len(frames) * 1e3)
            started = time.perf_counter()
            for frame in copies:
                reader.votes(frame)
            read.append((time.perf_counter() - started) / len(frames) * 1e3)
        small = [cv2.cvtColor(cv2.resize(frame, read_size(*size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
                 for frame in frames]
        reader.votes(small[0])
        started = time.perf_counter()
        for luma in small:
            reader.votes(luma)
        verify_ms = (time.perf_counter() - started) / len(small) * 1e3
        rows.append(f"| {size[1]}p | {statistics.median(embed):.2f} | {statistics.median(read):.2f} | {verify_ms:.2f} |")
    return rows


def survival(folder: str, seconds: float) -> tuple[list[str], list[str]]:
    session = bytes([0x5A, 0xC3, 0x17])
    marker = mark.Marker(session)
    frames = frames_at((1280, 720), seconds)
    plain = write_lossless(frames, os.path.join(folder, "plain.mkv"))
    marked = write_lossless([marker.embed(frame) for frame in frames], os.path.join(folder, "marked.mkv"))
    frames_1080 = frames_at((1920, 1080), seconds)
    marked_1080 = write_lossless([marker.embed(frame) for frame in frames_1080], os.path.join(folder, "m1080.mkv"))
    busy = frames_at(None, 3 * seconds, (BUSY_CLIP,))
    plain_busy = write_lossless(busy, os.path.join(folder, "plain-busy.mkv"))
    marked_busy = write_lossless([marker.embed(frame) for frame in busy], os.path.join(folder, "busy.mkv"))
    del frames, frames_1080, busy
    cost = []
    for crf in ("23", "28"):
        sizes = [os.path.getsize(encode(path, os.path.join(folder, f"crf{crf}-{name}.mp4"), "-crf", crf))
                 for name, path in (("plain", plain), ("marked", marked))]
        cost.append(f"| CRF {crf} veryfast, 720p | {sizes[0] / 1024:.0f} KiB | {sizes[1] / 1024:.0f} KiB | "
                    f"+{(sizes[1] / sizes[0] - 1) * 100:.0f}% |")
    cases = {
        "lossless": marked,
        "720p x264 veryfast 2.5 Mbit/s (CBR)": encode(marked, os.path.join(folder, "a.mp4"), *rate("2500k")),
        "720p x264 veryfast CRF 28": encode(marked, os.path.join(folder, "b.mp4"), "-crf", "28"),
        "720p x264 veryfast CRF 35": encode(marked, os.path.join(folder, "c.mp4"), "-crf", "35"),
        "1080p 6 Mbit/s, then 720p 2.5 Mbit/s": encode(encode(marked_1080, os.path.join(folder, "d1.mp4"),
                                                              *rate("6000k")),
                                                       os.path.join(folder, "d.mp4"), *rate("2500k"), size=(1280, 720)),
        "480p 1 Mbit/s": encode(marked, os.path.join(folder, "e.mp4"), *rate("1000k"), size=(854, 480)),
        "360p 400 kbit/s": encode(marked, os.path.join(folder, "f.mp4"), *rate("400k"), size=(640, 360)),
        "unmarked, 720p 2.5 Mbit/s": encode(plain, os.path.join(folder, "g.mp4"), *rate("2500k")),
        "720p VP9 500 kbit/s": reframed(marked, os.path.join(folder, "h.webm"), "null", "-b:v", "500k"),
        "occ_wave 540x720 (fairy lights), VP9 500 kbit/s": reframed(marked_busy, os.path.join(folder, "i.webm"),
                                                                    "null", "-b:v", "500k"),
        "occ_wave 540x720, 270x360 400 kbit/s": encode(marked_busy, os.path.join(folder, "j.mp4"), *rate("400k"),
                                                       size=(270, 360)),
        "unmarked occ_wave, VP9 500 kbit/s": reframed(plain_busy, os.path.join(folder, "l.webm"), "null",
                                                      "-b:v", "500k"),
    }
    for index, (name, graph) in enumerate(REFRAMES.items()):
        cases[f"720p, {name}, x264 2.5 Mbit/s"] = reframed(marked, os.path.join(folder, f"r{index}.mp4"), graph,
                                                           *rate("2500k"), size=(1280, 720))
    for name in ("crop 4% a side, scaled back", "9:16 over bars", "letterbox 1440x810 in 1920x1080"):
        cases[f"720p, {name}, VP9 500 kbit/s"] = reframed(marked, os.path.join(folder, f"v{len(cases)}.webm"),
                                                          REFRAMES[name], "-b:v", "500k", size=(1280, 720))
    for index, name in enumerate(("crop 4% a side, scaled back", "at 50% inside another clip")):
        cases[f"1080p, {name}, x264 2.5 Mbit/s"] = reframed(marked_1080, os.path.join(folder, f"k{index}.mp4"),
                                                            REFRAMES[name], *rate("2500k"), size=(1920, 1080))
    for index, name in enumerate(("crop 4% a side, scaled back", "at 50% inside another clip",
                                  "at 40% of its size inside another clip")):
        cases[f"unmarked, 720p, {name}"] = reframed(plain, os.path.join(folder, f"u{index}.mp4"), REFRAMES[name],
                                                    *rate("2500k"), size=(1280, 720))
    table = []
    for name, path in cases.items():
        started = time.perf_counter()
        found = read_video_mark(path, enough_windows=10 ** 9)   # every window
        seconds = time.perf_counter() - started
        right = found.session == session.hex()
        table.append(f"| {name} | {found.frames_decoded if right else 0}/{found.frames_read} | "
                     f"{found.windows_decoded if right else 0}/{found.windows_read} | "
                     f"{'session ' + found.session if found.found else 'nothing found'}"
                     f"{' (' + found.placed + ')' if found.placed else ''} | {seconds:.1f} |")
    return cost, table


def sessions_found(folder: str, sessions: int) -> list[str]:
    """Per low-bitrate encode of occ_wave (marked, then written as `faceswap swap` writes a
    video: x264 veryfast CRF 18, 4:2:0): of `sessions` random sessions, how many are found."""
    busy = frames_at(None, 2, (BUSY_CLIP,))
    encodes = {"VP9 500 kbit/s": lambda path, out: reframed(path, out + ".webm", "null", "-b:v", "500k"),
               "270x360 400 kbit/s": lambda path, out: encode(path, out + ".mp4", *rate("400k"), size=(270, 360))}
    found = dict.fromkeys(encodes, 0)
    for index in range(sessions):
        marker = mark.Marker(mark.new_session_id())
        lossless = write_lossless([marker.embed(frame) for frame in busy], os.path.join(folder, f"s{index}.mkv"))
        marked = encode(lossless, os.path.join(folder, f"s{index}-written.mp4"), "-crf", "18")   # as `faceswap swap` writes
        for name, encoded in encodes.items():
            reading = read_video_mark(encoded(marked, os.path.join(folder, f"s{index}")))
            found[name] += reading.session == marker.session_id.hex()
        print(f"  session {index + 1}/{sessions}", end="\r", flush=True)
    return [f"| occ_wave 540x720, {len(busy)} frames, {name} | {count}/{sessions} |" for name, count in found.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds taken from each of the 3 clips")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=0,
                        help="only count how many of this many random sessions occ_wave's low-bitrate encodes keep")
    args = parser.parse_args()
    if args.sessions:
        with tempfile.TemporaryDirectory() as folder:
            rows = sessions_found(folder, args.sessions)
        print("\n| clip and encode | sessions found |\n|---|---|\n" + "\n".join(rows))
        return
    print("| frame | embed ms | read ms (full size) | read ms (verify's luma, longer side 960) |\n|---|---|---|---|")
    print("\n".join(timings(args.rounds)))
    with tempfile.TemporaryDirectory() as folder:
        cost, table = survival(folder, args.seconds)
    print("\n| encode | without mark | with mark | cost |\n|---|---|---|---|")
    print("\n".join(cost))
    print("\n| encode | single frames decoded | one-second windows decoded | verify says | read s |\n"
          "|---|---|---|---|---|")
    print("\n".join(table))


if __name__ == "__main__":
    main()
