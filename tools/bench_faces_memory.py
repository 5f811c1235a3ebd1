"""What a list of faces kept ready costs in memory: the landmark engine with N faces prepared.

    .venv/bin/python -m tools.bench_faces_memory [--counts 1 4 16]

Each count runs in a fresh process (the memory a process once took is not given back to
the system, so counts measured one after another in one process would hide each other):
the engine is made, N photos are prepared through set_source_file as the worker does for
a streamer's list, and the process's resident memory (VmRSS) is read before the first
and after the last. The photos are ../shared/media's portraits, each also mirrored and
scaled (different files: each is prepared on its own), at their own sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PORTRAITS = ("fr_obama.jpg", "if_t1.jpg", "dlib_2008_002506.jpg", "occ_cheek_1.png")


def photos(folder: Path, count: int) -> list[str]:
    """count different photo files made from the portraits (mirrored, scaled by 90%)."""
    import cv2

    from testkit.judge import media

    made = []
    for variant in range(count):
        image = cv2.imread(str(media(PORTRAITS[variant % len(PORTRAITS)])))
        if (variant // len(PORTRAITS)) % 2:
            image = image[:, ::-1]
        for _ in range(variant // (2 * len(PORTRAITS))):
            image = cv2.resize(image, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA)
        path = folder / f"face{variant}.png"
        cv2.imwrite(str(path), image)
        made.append(str(path))
    return made


def measure(count: int) -> dict:
    """In this process: the engine's memory before any face and after `count` faces."""
    from faceswap_core.engines import create_engine
    from testkit.fault_host import rss_kb

    resident_mb = lambda: rss_kb(os.getpid()) / 1024.0  # noqa: E731

    with tempfile.TemporaryDirectory() as folder:
        files = photos(Path(folder), count)
        engine = create_engine("landmark")
        engine.set_source_file(files[0])   # the engine's models loaded: the base
        base = resident_mb()
        for path in files[1:]:
            engine.set_source_file(path)
        engine.set_source_file(files[0])   # and back to the first: nothing prepared again
        after = resident_mb()
        ready = len(engine._ready)
        kept = sum(array_bytes(state) for _, _, state in engine._ready.values())
        engine.close()
    return {"faces": count, "ready": ready, "base_mb": round(base, 1), "after_mb": round(after, 1),
            "kept_mb": round(kept / 2 ** 20, 1)}


def array_bytes(value) -> int:
    """The bytes of the numpy arrays a prepared face holds (its dataclasses walked)."""
    import dataclasses

    import numpy as np

    if isinstance(value, np.ndarray):
        return value.nbytes
    if dataclasses.is_dataclass(value):
        return sum(array_bytes(getattr(value, field.name)) for field in dataclasses.fields(value))
    if isinstance(value, (tuple, list)):
        return sum(array_bytes(item) for item in value)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)   # the child process's count
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    print("| faces kept ready | their pictures MB | resident MB with the first | with all | added per further face MB |")
    print("|---|---|---|---|---|")
    for count in args.counts:
        child = subprocess.run([sys.executable, "-m", "tools.bench_faces_memory", "--one", str(count)],
                               capture_output=True, text=True, check=True)
        result = json.loads(child.stdout.strip().splitlines()[-1])
        per_face = (result["after_mb"] - result["base_mb"]) / max(count - 1, 1)
        added = f"{per_face:.1f}" if count > 1 else "-"
        print(f"| {result['ready']} | {result['kept_mb']:.1f} | {result['base_mb']:.0f} | {result['after_mb']:.0f} | "
              f"{added} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
