"""The Triton runtime's costs on the streaming PC's side, over loopback to a real Triton
server (the bundled 2.51, Python backend; python -m testkit.triton_server build first).

    python -m tools.bench_triton [--rounds 300] [--frames 60] [--delays 0,10,25,50] [--runs 5]

1. Round trip per frame for 1 and 4 faces: the served swap graph run in this process
   (ONNX Runtime, CPU) against the same graph through the server (gRPC, uint8 crops),
   interleaved call by call; the difference is what the network path adds.
2. The worker's own time per 720p frame with the models remote: detection (reused between
   frames while faces are still), alignment, the request, paste-back, as wall and CPU time
   of this process (the server's CPU is not in it). The goal: well under 33 ms (30 fps).
3. Frames a second with the server made distant (testkit.delay_proxy adds a fixed time each
   way): one frame in flight (finished before the next begins) against two (the next
   frame's detection while the server answers), interleaved run by run.

The served models are stand-ins with the real signatures (the real weights cannot be
downloaded here): the server's own compute is small, so the figures are the transport's
and the streaming PC's, not a GPU's swap time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from faceswap_core.cli import main as faceswap
from faceswap_core.engines import create_engine
from faceswap_core.options import SwapOptions
from faceswap_core.remote import served, served_graphs
from faceswap_core.remote.triton_link import TritonLink
from testkit import standins, triton_server
from testkit.delay_proxy import DelayProxy
from testkit.judge import media, read_frames, shared_model
from tools.bench_neural import canvas_720p


def _median_ms(values) -> float:
    return statistics.median(values) * 1e3


def round_trips(repo: Path, link: TritonLink, rounds: int) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(repo / "models" / served.SWAPPER.name / "1" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    print("| faces per frame | in-process run | through Triton (loopback) | what the path adds |")
    print("|---|---|---|---|")
    for faces in (1, 4):
        feeds = served_graphs.sample_inputs(served.SWAPPER, faces, seed=faces)
        local, remote = [], []
        for index in range(rounds + 5):
            started = time.perf_counter()
            session.run(None, feeds)
            middle = time.perf_counter()
            link.infer(served.SWAPPER, feeds)
            done = time.perf_counter()
            if index >= 5:   # warm-up
                local.append(middle - started)
                remote.append(done - middle)
        a, b = _median_ms(local), _median_ms(remote)
        print(f"| {faces} | {a:.2f} ms | {b:.2f} ms | {b - a:.2f} ms |")


def remote_frames(address: str, count: int, det_size: int) -> None:
    engine = create_engine("neural", SwapOptions(), runtime="triton", server=address, det_size=det_size,
                           model_paths={"detector": str(shared_model("scrfd_500m_bnkps.onnx"))})
    engine.set_source_file(str(media("fr_obama.jpg")))
    frames = [canvas_720p(frame) for frame in read_frames(media("lp_d12.mp4"), limit=count)]
    wall, cpu, stages = [], [], {}
    for index, frame in enumerate(frames):
        started, started_cpu = time.perf_counter(), time.process_time()
        engine.process(frame, index / 30)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert len(engine.last_report.boxes) == 1, "the benchmark clip shows one face"
        for stage, ms in engine.last_report.stage_ms.items():
            stages.setdefault(stage, []).append(ms)
    print(f"\n720p frames with the models remote, detector at {det_size} ({len(frames)} frames, 30 fps timestamps):")
    print(f"wall {_median_ms(wall):.1f} ms median (p90 {np.percentile(wall, 90) * 1e3:.1f}), "
          f"CPU {_median_ms(cpu):.1f} ms median (p90 {np.percentile(cpu, 90) * 1e3:.1f})")
    print("stages (median ms): " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in stages.items()))


def _frames_per_second(engine, frames, in_flight: int) -> float:
    """Frames a second through the engine with up to `in_flight` frames begun and not yet
    finished, the way the worker schedules them (1: each frame finished before the next)."""
    flights = []
    started = time.perf_counter()
    for index, frame in enumerate(frames):
        if flights and flights[0].ready():
            flights.pop(0).result()
        flights.append(engine.begin(frame, index / 30))
        while len(flights) >= in_flight:
            flights.pop(0).result()
    for flight in flights:
        flight.result()
    return len(frames) / (time.perf_counter() - started)


def distant_server(port: int, count: int, det_size: int, one_way_ms: tuple, runs: int) -> None:
    """Frames a second with one frame in flight against two, the server made distant by
    testkit.delay_proxy (a simulation: time added each way, no bandwidth limit)."""
    frames = [canvas_720p(frame) for frame in read_frames(media("lp_d12.mp4"), limit=count)]
    print(f"\n720p frames a second, detector at {det_size}, server behind a delay ({count} frames a run, "
          f"median of {runs} interleaved runs):")
    print("| round trip added | one frame in flight | two frames in flight | ratio |")
    print("|---|---|---|---|")
    for delay in one_way_ms:
        with DelayProxy(port, delay) as proxy:
            engine = create_engine("neural", SwapOptions(), runtime="triton", server=proxy.address,
                                   server_timeout_ms=2000, det_size=det_size,
                                   model_paths={"detector": str(shared_model("scrfd_500m_bnkps.onnx"))})
            engine.set_source_file(str(media("fr_obama.jpg")))
            _frames_per_second(engine, frames[:5], 1)   # warm-up
            rates = {1: [], 2: []}
            for _ in range(runs):
                for in_flight in (1, 2):
                    engine.reset()
                    rates[in_flight].append(_frames_per_second(engine, frames, in_flight))
            assert not engine.notes, engine.notes   # the server answered every frame
            engine.close()
        one, two = statistics.median(rates[1]), statistics.median(rates[2])
        print(f"| {2 * delay} ms | {one:.1f} | {two:.1f} | {two / one:.2f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--det-size", type=int, action="append", help="detector sizes to run (default: 640 and 320)")
    parser.add_argument("--delays", default="0,10,25,50", help="one-way delays in ms for the frames-in-flight runs")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs per delay")
    args = parser.parse_args(argv)
    if triton_server.skip_reason():
        raise SystemExit(triton_server.skip_reason())
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        recognizer = standins.build_recognizer(folder / "recognizer.onnx")
        swapper = standins.build_swapper(folder / "swapper.onnx")
        repo = folder / "repo"
        faceswap(["triton-repo", str(repo), "--backend", "python", "--recognizer", str(recognizer),
                  "--swapper", str(swapper), "--threads", "1"])
        with triton_server.TritonServer(repo / "models") as server:
            link = TritonLink(server.address, timeout_ms=2000)
            round_trips(repo, link, args.rounds)
            link.close()
            for det_size in args.det_size or (640, 320):
                remote_frames(server.address, args.frames, det_size)
            distant_server(int(server.address.rsplit(":", 1)[1]), args.frames, 320,
                           tuple(int(value) for value in args.delays.split(",")), args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
