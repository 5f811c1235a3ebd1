"""The real worker with one fault injected; the filter starts it as its "Worker Python".

    make_faulty_python(tmp_path, "raise-every:5") -> an executable the filter's
    "Worker Python" setting can point at. The filter runs it exactly as it runs a real
    interpreter (`<it> -m faceswap_core.worker --channel ... --owner-pid ...`); it execs
    this test venv's Python on this file, which patches the worker and runs its main().

Faults (one per launcher):
    raise-every:N     the engine raises RuntimeError on every Nth frame
    slow:SECONDS      the engine takes this long per frame (a frame is in flight a while)
    slow-every:N:S    the engine takes S seconds longer on every Nth frame (a search, a
                      busy moment), its usual time on the others
    slow-after-rest:R:S  S seconds longer on a frame that comes R seconds or more after
                      the last one (a worker woken on a busy machine), its usual time after
    corrupt-header    after each frame, random values in every header field the worker
                      may write, and some it must not (sequence numbers, magic, capacity)
    wrong-size        every result claims a size other than the frame's
    audit:PATH        record network and unpickling events (Python audit hooks) to PATH
    clock-offset:S    the worker's clocks read S seconds off OBS's (another Python's clock
                      on Windows: GetTickCount64 vs QueryPerformanceCounter; a sandbox)
    hold-gil:S        once it waits for a photo, hold the GIL for S seconds (a C call
                      that never releases it): every thread stands still, the process runs
    deadlock:S        like hold-gil, and deaf to SIGINT, as a worker stuck in a C call is
                      (its Python handler never gets to run): only a kill ends it
    instant           no engine work: a box in the frame's middle is darkened (about a
                      millisecond): what the frame paths do with a worker that answers
                      at once (benchmarks of the paths, not of an engine)
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from testkit import REPO

SLOWER_THAN_A_FRAME_S = 0.05   # for `slow:`: longer than a 30 fps frame on any machine


def make_faulty_python(folder: Path, fault: str) -> str:
    """An executable that starts the worker with `fault` injected (a /bin/sh launcher)."""
    folder.mkdir(parents=True, exist_ok=True)
    launcher = folder / f"python-{fault.split(':', 1)[0]}"
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m testkit.faulty_worker "{fault}" "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


def _around_begin(wrap) -> None:
    """Every engine the worker makes answers each frame through wrap(begin, frame, timestamp),
    begin being its own method (what the worker calls for each frame)."""
    from faceswap_core import engines

    original = engines.create_engine

    def create_engine(*args, **kwargs):
        engine = original(*args, **kwargs)
        begin = engine.begin
        engine.begin = lambda frame, timestamp=None: wrap(begin, frame, timestamp)
        return engine

    engines.create_engine = create_engine


def _raise_every(n: int) -> None:
    count = [0]

    def faulty(begin, frame, timestamp):
        count[0] += 1
        if count[0] % n == 0:
            raise RuntimeError(f"injected fault on frame {count[0]}")
        return begin(frame, timestamp)

    _around_begin(faulty)


def _slow(seconds: float) -> None:
    import time

    def slow(begin, frame, timestamp):
        time.sleep(seconds)
        return begin(frame, timestamp)

    _around_begin(slow)


def _slow_every(n: int, seconds: float) -> None:
    import time

    count = [0]

    def sometimes_slow(begin, frame, timestamp):
        count[0] += 1
        if count[0] % n == 0:
            time.sleep(seconds)
        return begin(frame, timestamp)

    _around_begin(sometimes_slow)


def _slow_after_rest(rest: float, seconds: float) -> None:
    import time

    last = [None]

    def slow_to_wake(begin, frame, timestamp):
        now = time.monotonic()
        if last[0] is not None and now - last[0] >= rest:
            time.sleep(seconds)
        try:
            return begin(frame, timestamp)
        finally:
            last[0] = time.monotonic()

    _around_begin(slow_to_wake)


def _clock_offset(seconds: float) -> None:
    """Before anything of ours is imported: every clock the worker could read is off."""
    import time

    offset = int(seconds * 1e9)
    for name in ("monotonic_ns", "perf_counter_ns"):
        real = getattr(time, name)
        setattr(time, name, lambda real=real: real() + offset)
    for name in ("monotonic", "perf_counter"):
        real = getattr(time, name)
        setattr(time, name, lambda real=real: real() + seconds)


def _hold_gil(seconds: float) -> None:
    import ctypes

    from faceswap_core.worker import service as worker

    original = worker.Worker.apply_settings
    held = [False]

    def apply_settings(self):
        original(self)
        if not held[0]:
            held[0] = True
            _hold_gil_in_c(ctypes, seconds)

    worker.Worker.apply_settings = apply_settings


def _hold_gil_in_c(ctypes, seconds: float) -> None:
    """libc's sleep through a PyDLL handle: the GIL stays held for the whole call."""
    ctypes.PyDLL(None).sleep(int(seconds))


def _after_each_frame(damage) -> None:
    from faceswap_core.worker import service as worker

    original = worker.Worker.process_pending

    def process_pending(self):
        done = original(self)
        if done:
            damage(self.channel)
        return done

    worker.Worker.process_pending = process_pending


def _corrupt(channel) -> None:
    """Garbage in the header, as a buggy or hostile worker could write it."""
    rng = random.Random()
    u32, u64 = (1 << 32) - 1, (1 << 64) - 1
    edge32 = [0, 1, 3, 4095, 4096, 16384, 16385, u32 // 4, u32 // 4 + 1, u32 - 1, u32]
    edge64 = [0, 1, u64 - 1, u64, 1 << 63]
    for name in ("out_width", "out_height", "out_stride", "out_faces", "fps_x100", "process_us", "worker_state"):
        channel.set(name, rng.choice(edge32 + [rng.randrange(u32 + 1)]))
    for name in ("out_seq", "out_in_time_ns", "heartbeat", "settings_seq", "in_seq", "in_ack", "in_taken"):
        if rng.random() < 0.5:
            channel.set(name, rng.choice(edge64 + [rng.randrange(u64 + 1)]))
    if rng.random() < 0.8:
        channel.set("out_writing", channel.get("out_seq"))   # mostly marked as published, so the filter reads it
    if rng.random() < 0.2:
        channel.set("slot_capacity", rng.choice(edge64))
        channel.mm[0:8] = os.urandom(8)
    channel.mm[256:512] = os.urandom(256)   # the error text: not UTF-8, no terminator
    channel.set("worker_state", 3)          # RUNNING most of the time, so the filter reads results


def _wrong_size() -> None:
    """Every result published with a size one pixel off its frame's, in the handshake itself
    (damaging the fields after a good publish would leave OBS a moment to take the good one)."""
    from faceswap_core.link.channel import Exchange

    original = Exchange.publish_result

    def publish_result(self, frame, stride, faces, process_us, let_go=True):
        wrong = frame._replace(width=frame.width + 1, height=max(1, frame.height - 1))
        return original(self, wrong, stride + 4 if stride else stride, faces, process_us, let_go)

    Exchange.publish_result = publish_result


def _audit(path: str) -> None:
    """Every socket call and every unpickled class, written to `path` as it happens."""
    def hook(event, args):
        if event.startswith("socket.") or event == "pickle.find_class":
            with open(path, "a") as handle:
                handle.write(f"{event} {args!r}\n")

    sys.addaudithook(hook)


def _instant() -> None:
    from faceswap_core.worker.in_flight import InFlight

    def instant(begin, frame, timestamp):
        out = frame.copy()
        height, width = frame.shape[:2]
        out[height // 4:height // 2, width // 3:2 * width // 3] //= 2
        return InFlight.done(out)

    _around_begin(instant)


def main(argv: list[str]) -> int:
    fault, rest = argv[0], argv[1:]
    if rest[:2] != ["-m", "faceswap_core.worker"]:
        raise SystemExit(f"faulty_worker: expected '-m faceswap_core.worker ...', got {rest}")
    kind, _, value = fault.partition(":")
    if kind == "raise-every":
        _raise_every(int(value))
    elif kind == "slow":
        _slow(float(value))
    elif kind == "slow-every":
        every, _, seconds = value.partition(":")
        _slow_every(int(every), float(seconds))
    elif kind == "slow-after-rest":
        resting, _, seconds = value.partition(":")
        _slow_after_rest(float(resting), float(seconds))
    elif kind == "corrupt-header":
        _after_each_frame(_corrupt)
    elif kind == "wrong-size":
        _wrong_size()
    elif kind == "audit":
        _audit(value)
    elif kind == "clock-offset":
        _clock_offset(float(value))
    elif kind == "hold-gil":
        _hold_gil(float(value))
    elif kind == "deadlock":
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _hold_gil(float(value))
    elif kind == "instant":
        _instant()
    elif kind != "none":
        raise SystemExit(f"faulty_worker: unknown fault {fault}")
    from faceswap_core.worker import service as worker

    return worker.main(rest[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
