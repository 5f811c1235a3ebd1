"""The neural engine with its recognizer and swapper on a real Triton server (2.51.0, the one
nvidia-pytriton bundles, Python backend, started by testkit.triton_server on 127.0.0.1)
serving a repository made by `faceswap triton-repo --backend python` from stand-ins of the
real models' signatures (the real weights cannot be downloaded here); the real SCRFD
detector runs here, as on a streaming PC.

What a streamer would see: the same frames as the local engine; a server killed, stopped or
restarted costs at most the timeout per frame and never a frozen stream; the status line
says so; TLS and the key header work, and a wrong key says what to type.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap_core import link
from faceswap_core.engines import create_engine
from faceswap_core.errors import FaceSwapError
from faceswap_core.options import SwapOptions
from faceswap_core.remote import served, triton_link
from faceswap_core.remote.tls import write_server_certificate
from testkit import cli, load, triton_server
from testkit.delay_proxy import DelayProxy
from testkit.helpers import require_module
from testkit.judge import media, read_frames, shared_model
from testkit.worker_channel import hand_over, read_result, start_worker, wait_until

require_module("tritonclient.grpc", "a dependency of the project: pip install -e .")

KEY = "test-key_42"
TIMEOUT_MS = 150     # the live default: tests of what a timeout does use it
# where a frame must come back swapped: a live timeout no busy machine reaches (the Python
# backend on a loaded 2-core machine can take longer than 150 ms for a frame)
SWAPS_TIMEOUT_MS = 2000
SAME_PERSON = 0.15
BUSY_S = 1.0         # what a busy machine may add to a deadline that is the product's own (a timeout, a retry)   # the stand-in recognizer: the same face ~0.01 apart, different faces >= 0.33


@pytest.fixture(scope="module", autouse=True)
def bundled_server():
    reason = triton_server.skip_reason()
    if reason:
        import os

        if os.environ.get("CI"):
            pytest.fail(f"CI builds the Triton venv (tests/run.sh), yet: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def repo(tmp_path_factory, recognizer_model, swapper_model):
    from faceswap_core.cli import main as faceswap

    out = tmp_path_factory.mktemp("triton") / "repo"
    assert faceswap(["triton-repo", str(out), "--backend", "python", "--recognizer", str(recognizer_model),
                     "--swapper", str(swapper_model), "--key", KEY, "--tls", "127.0.0.1", "--threads", "1"]) == 0
    return out


@pytest.fixture
def server(repo):
    with triton_server.TritonServer(repo / "models") as running:
        yield running


@pytest.fixture(scope="module")
def detector():
    return str(shared_model("scrfd_500m_bnkps.onnx"))


@pytest.fixture(scope="module")
def local_paths(detector, recognizer_model, swapper_model):
    return {"detector": detector, "recognizer": str(recognizer_model), "swapper": str(swapper_model)}


def _options(**values):
    return SwapOptions(smoothing=0.0, **values)


def _remote(address, detector, options=None, **kwargs):
    kwargs.setdefault("server_timeout_ms", SWAPS_TIMEOUT_MS)
    return create_engine("neural", options or _options(), model_paths={"detector": detector}, runtime="triton",
                         server=address, **kwargs)


def _frames(count=6):
    return read_frames(media("lp_d12.mp4"), limit=count)


def _timed(engine, frame, timestamp):
    started = time.perf_counter()
    out = engine.process(frame, timestamp)
    return out, time.perf_counter() - started


@pytest.mark.parametrize("boost", ["128", "256"])
def test_remote_frames_equal_local_frames(server, detector, local_paths, boost):
    """Pixel boost 256 sends a face as 4 crops: still one request per frame."""
    local = create_engine("neural", _options(pixel_boost=boost), model_paths=local_paths)
    remote = _remote(server.address, detector, _options(pixel_boost=boost))
    assert remote.describe().startswith(f"neural on Triton {server.address}")
    for engine in (local, remote):
        engine.set_source_file(str(media("fr_obama.jpg")))
    trips = remote.path.link.round_trips
    for index, frame in enumerate(_frames()):
        want, got = local.process(frame, index / 25), remote.process(frame, index / 25)
        assert remote.last_report.boxes == local.last_report.boxes and len(local.last_report.boxes) == 1
        assert int(np.abs(want.astype(int) - got).max()) <= 1
        assert float(np.abs(got.astype(int) - frame).mean()) > 0.5   # it is swapped
    assert remote.path.link.round_trips - trips == len(_frames())   # all crops of a frame: one round trip


def test_two_people_in_one_request_and_reference_mapping(server, detector, local_paths):
    """Two faces swapped through one request; 'only the reference person' compares
    identities made by the served recognizer, and picks the same face as locally."""
    picture = cv2.imread(str(media("fr_two_people.jpg")))
    for mapping in ("all", "reference"):
        local = create_engine("neural", _options(), model_paths=local_paths, match_distance=SAME_PERSON)
        remote = _remote(server.address, detector, match_distance=SAME_PERSON)
        for engine in (local, remote):
            engine.set_source_file(str(media("fr_obama.jpg")))
            if mapping == "reference":
                engine.set_reference(picture, face_index=1)
        want, got = local.process_image(picture), remote.process_image(picture)
        assert remote.last_report.boxes == local.last_report.boxes
        assert len(local.last_report.boxes) == (2 if mapping == "all" else 1)
        assert int(np.abs(want.astype(int) - got).max()) <= 1


FAR_ONE_WAY_MS = 100   # a server this far (simulated by testkit.delay_proxy): 200 ms round trips
FAR_TIMEOUT_MS = 2000


def _far(server):
    return DelayProxy(int(server.address.rsplit(":", 1)[1]), FAR_ONE_WAY_MS)


def test_overlapped_frames_equal_sequential_frames(server, detector):
    """begin() returns once the faces are sent; frames begun two at a time and finished in
    order are the same frames as one at a time. The server sits behind a relay that adds
    100 ms each way (a simulation of distance: only loopback exists here), so an answer
    cannot be in when begin() returns."""
    with _far(server) as proxy:
        engines = [_remote(proxy.address, detector, server_timeout_ms=FAR_TIMEOUT_MS) for _ in range(2)]
        for engine in engines:
            engine.set_source_file(str(media("fr_obama.jpg")))
        sequential, overlapped = engines
        assert overlapped.overlaps
        frames = _frames(4)
        want = [sequential.process(frame, index / 25) for index, frame in enumerate(frames)]
        got, flights = [], []
        for index, frame in enumerate(frames):
            flights.append(overlapped.begin(frame, index / 25))
            assert not flights[-1].ready(), f"frame {index}: begin() waited for the server ({overlapped.notes})"
            if len(flights) == 2:
                got.append(flights.pop(0).result())
        got += [flight.result() for flight in flights]
    for expected, actual, frame in zip(want, got, frames):
        assert np.array_equal(expected, actual)
        assert float(np.abs(actual.astype(int) - frame).mean()) > 0.5   # it is swapped


def test_worker_keeps_two_frames_in_flight(server, detector, channel):
    """A real worker with the server far away (the relay above): it lets go of the input
    slot once it holds a frame, so the filter hands over the next frame while the first is
    still on the server; both answers come, in order, each in its own output slot, also
    when a live option changes meanwhile."""
    first = cv2.cvtColor(_frames(1)[0], cv2.COLOR_BGR2BGRA)
    second = np.ascontiguousarray(first[:, ::-1])   # the face elsewhere: answers cannot be confused
    with _far(server) as proxy:
        settings = {"engine": "neural", "runtime": "triton", "server": proxy.address,
                    "server_timeout_ms": FAR_TIMEOUT_MS, "detector_file": detector,
                    "source_photo": str(media("fr_obama.jpg"))}
        channel.write_settings(settings)
        worker = start_worker(channel)
        try:
            wait_until(lambda: channel.state() in (link.STATE_RUNNING, link.STATE_ERROR), what="the worker to run")
            assert channel.state() == link.STATE_RUNNING, channel.error()
            hand_over(channel, first)
            wait_until(channel.exchange.input_free, what="the worker to take the first frame")
            hand_over(channel, second)
            channel.write_settings({**settings, "opacity": 0.9})   # a slider moved: frames in flight still come
            in_flight = 0
            deadline = time.monotonic() + 10
            while not channel.worker_free() and time.monotonic() < deadline:
                in_flight = max(in_flight, channel.get("in_taken") - channel.get("in_ack"))
                time.sleep(0.001)
            assert channel.worker_free(), "the two frames were not answered"
            assert in_flight == 2, "the second frame was not taken while the first was on the server"
            assert channel.get("out_seq") == 2 and channel.get("out_faces") == 1
            width, height, stride = channel.output_geometry()
            answers = [np.ndarray((height, width, 4), np.uint8, channel.mm, channel.output_offset(slot),
                                  (stride, 4, 1)).copy() for slot in (0, 1)]
        finally:
            worker.stdin.close()
            assert worker.wait(10) == 0
    for answer, own, other in zip(answers, (first, second), (second, first)):
        assert not np.array_equal(answer, own), "not swapped"
        # its own frame, swapped and labelled (~12 levels off on average), not the other one (~25)
        assert np.abs(answer.astype(int) - own).mean() * 1.5 < np.abs(answer.astype(int) - other).mean()


def test_a_fixed_batch_swapper_gets_one_request_per_face(tmp_path, detector, recognizer_model, standin_dir):
    """inswapper_128's batch axis is fixed: the repository says max_batch_size 0 (its warm-up
    request has the batch in its dims), and two faces go as two requests sent together."""
    from faceswap_core.cli import main as faceswap
    from testkit import standins

    fixed = standins.build_swapper(standin_dir / "fixed_for_server.onnx", one_per_run=True)
    out = tmp_path / "repo"
    assert faceswap(["triton-repo", str(out), "--backend", "python", "--recognizer", str(recognizer_model),
                     "--swapper", str(fixed), "--threads", "1"]) == 0
    picture = cv2.imread(str(media("fr_two_people.jpg")))
    local = create_engine("neural", _options(), model_paths={"detector": detector, "recognizer": str(recognizer_model),
                                                             "swapper": str(fixed)})
    with triton_server.TritonServer(out / "models", options=["--log-verbose=1"]) as running:
        remote = _remote(running.address, detector)
        for engine in (local, remote):
            engine.set_source_file(str(media("fr_obama.jpg")))
        want, got = local.process_image(picture), remote.process_image(picture)
        assert remote.path.link.batch[served.SWAPPER.name] == 0
        assert len(remote.last_report.boxes) == 2 and int(np.abs(want.astype(int) - got).max()) <= 1
        log = running.log.read_text()
    for name in (served.RECOGNIZER.name, served.SWAPPER.name):
        assert f"model '{name}' instance {name}_0_0 is running warmup sample 'first_request'" in log


def test_killed_server_passes_frames_through_then_resumes(server, detector):
    remote = _remote(server.address, detector)
    remote.set_source_file(str(media("fr_obama.jpg")))
    frames = _frames(4)
    assert remote.process(frames[0], 0.0) is not frames[0] and remote.last_report.boxes
    regions = lambda: list(Path("/dev/shm").glob(f"{server.shm_prefix}*"))  # noqa: E731
    assert regions(), "the Python backend's shared memory, under the server's own prefix"
    server.kill()
    assert not regions(), "a killed server's shared memory is removed"
    killed = time.monotonic()
    out, _ = _timed(remote, frames[1], 0.04)
    assert out is frames[1], "the frame after the kill passes through, untouched"
    assert time.monotonic() - killed < TIMEOUT_MS / 1000 + BUSY_S
    assert any("away" in note and "pass through unswapped" in note for note in remote.notes)
    assert any("nothing answers at that address" in note or "the connection was lost" in note
               for note in remote.notes), remote.notes   # in words, not gRPC's
    detections = remote.detector.session.runs
    out, spent = _timed(remote, frames[2], 0.08)   # not due for a try: at once, no detection
    assert out is frames[2] and remote.detector.session.runs == detections and spent < BUSY_S
    server.start()
    ready, timestamp = time.monotonic(), 0.12
    while remote.process(frames[3], timestamp) is frames[3]:
        assert time.monotonic() - ready < triton_link.RETRY_S + BUSY_S + 2.0, \
            "a restarted server must be used again at the next try (once a second)"
        time.sleep(0.02)
        timestamp += 0.04
    assert remote.last_report.boxes and not any("away" in note for note in remote.notes)


def test_stopped_server_costs_at_most_the_timeout_per_frame(server, detector):
    remote = _remote(server.address, detector, server_timeout_ms=TIMEOUT_MS)
    remote.set_source_file(str(media("fr_obama.jpg")))
    frame = _frames(1)[0]
    for index in range(3):
        remote.process(frame, index / 25)
    link_ = remote.path.link
    server.signal(signal.SIGSTOP)
    try:
        spent, passed, timestamp = [], 0, 0.2
        sent_before, started = link_.requests, time.monotonic()
        while time.monotonic() - started < 2.5:
            out, seconds = _timed(remote, frame, timestamp)
            spent.append(seconds)
            passed += out is frame
            timestamp += 0.04
        elapsed = time.monotonic() - started
        tries = link_.requests - sent_before
        # a frame's wait ends at the timeout (a busy machine adds its own delays: generous);
        # after the first, a try about once a second, the other frames passing at once
        assert max(spent) < TIMEOUT_MS / 1000 + BUSY_S, max(spent)
        assert 1 <= tries <= 1 + elapsed / triton_link.RETRY_S + 1, (tries, elapsed)
        assert len(spent) > tries and passed == len(spent)
    finally:
        server.signal(signal.SIGCONT)
    link_.timeout = SWAPS_TIMEOUT_MS / 1000   # the answers again: in no matter how busy a machine's time
    resumed = time.monotonic()
    while remote.process(frame, timestamp) is frame:
        assert time.monotonic() - resumed < triton_link.RETRY_S + BUSY_S + 2.0
        timestamp += 0.04
        time.sleep(0.02)


def test_a_server_stopped_at_start_never_holds_a_frame_longer_than_the_timeout(server, detector):
    """First contact on a frame (the server never answered before) waits a frame's timeout,
    not the longer one opening the engine allows."""
    server.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        remote = _remote(server.address, detector, server_timeout_ms=TIMEOUT_MS)
        assert time.monotonic() - started < triton_link.CONNECT_TIMEOUT_S + BUSY_S + 2.0
        remote.set_source_file(str(media("fr_obama.jpg")))   # identity pending: the server is away
        frame, timestamp, spent = _frames(1)[0], 0.0, []
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            out, seconds = _timed(remote, frame, timestamp)
            assert out is frame
            spent.append(seconds)
            timestamp += 0.04
        # the frame's timeout (plus checking the photo here), not the 2 s that opening the engine allows
        assert max(spent) < TIMEOUT_MS / 1000 + BUSY_S < triton_link.CONNECT_TIMEOUT_S, max(spent)
    finally:
        server.signal(signal.SIGCONT)


def test_broken_faces_from_the_server_stop_the_swap_with_the_fix(tmp_path, detector, recognizer_model, standin_dir):
    """NaN from TensorRT fp16 on the server's GPU reaches the client as one flat colour: the
    swap stops (the stream shows the camera) and says to serve fp32, not a black box."""
    from faceswap_core.cli import main as faceswap
    from testkit import standins

    flat = standins.build_swapper(standin_dir / "flat_for_server.onnx", flat=True)
    out = tmp_path / "repo"
    assert faceswap(["triton-repo", str(out), "--backend", "python", "--recognizer", str(recognizer_model),
                     "--swapper", str(flat), "--threads", "1"]) == 0
    with triton_server.TritonServer(out / "models") as running:
        remote = _remote(running.address, detector)
        remote.set_source_file(str(media("fr_obama.jpg")))
        with pytest.raises(FaceSwapError, match="broken faces.*--precision fp32"):
            remote.process(_frames(1)[0], 0.0)


def test_local_fallback_swaps_while_the_server_is_away(server, local_paths):
    local = create_engine("neural", _options(), model_paths=local_paths)
    remote = create_engine("neural", _options(), model_paths=local_paths, runtime="triton", server=server.address,
                           server_timeout_ms=TIMEOUT_MS, server_fallback="local")
    assert "local models while it is away" in remote.describe()
    for engine in (local, remote):
        engine.set_source_file(str(media("fr_obama.jpg")))
    frames = _frames(3)
    server.kill()
    for index, frame in enumerate(frames):
        want, got = local.process(frame, index / 25), remote.process(frame, index / 25)
        assert got is not frame and int(np.abs(want.astype(int) - got).max()) <= 1
    assert any("the models run here" in note for note in remote.notes)


def test_a_server_away_at_start_gets_the_photo_when_it_comes(repo, detector):
    """The GPU box may boot after OBS: the filter starts, checks the photo here, passes
    frames through, and swaps once the server answers."""
    port = triton_server.free_port()
    remote = _remote(f"127.0.0.1:{port}", detector)
    info = remote.set_source_file(str(media("fr_obama.jpg")))
    assert info.faces_found == 1 and any("Triton server answers" in note for note in info.notes)
    frame = _frames(1)[0]
    assert remote.process(frame, 0.0) is frame
    with pytest.raises(FaceSwapError, match="No face"):   # the photo is still checked here, at once
        remote.set_source_file(_no_face_photo(repo))
    remote.set_source_file(str(media("fr_obama.jpg")))
    with triton_server.TritonServer(repo / "models", port=port):
        ready, timestamp = time.monotonic(), 0.04
        while remote.process(frame, timestamp) is frame:
            assert time.monotonic() - ready < triton_link.RETRY_S + BUSY_S + 5.0   # the server's own start too
            time.sleep(0.02)
            timestamp += 0.04
        assert remote.last_report.boxes


def _no_face_photo(folder) -> str:
    path = folder.parent / "no_face.png"
    cv2.imwrite(str(path), np.full((240, 320, 3), 128, np.uint8))
    return str(path)


def test_tls_and_key_from_the_start_script(repo, detector):
    """The options in start-server.sh, on the real server: TLS with the generated
    certificate and the key header; a wrong or missing key is refused and says what to type;
    a certificate that is not the server's is a failed handshake, said on the status line."""
    certificate = str(repo / "tls/server.crt")
    with triton_server.TritonServer(repo / "models", options=triton_server.start_script_options(repo)) as server:
        remote = _remote(server.address, detector, server_tls=True, server_certificate=certificate, server_key=KEY)
        remote.set_source_file(str(media("fr_obama.jpg")))
        frame = _frames(1)[0]
        assert remote.process(frame, 0.0) is not frame and remote.last_report.boxes
        assert "(TLS)" in remote.describe()
        with pytest.raises(FaceSwapError, match="refused.*the key is not the server's.*Server key"):
            _remote(server.address, detector, server_tls=True, server_certificate=certificate, server_key="wrong")
        with pytest.raises(FaceSwapError, match="refused.*no key was sent"):
            _remote(server.address, detector, server_tls=True, server_certificate=certificate)
        stranger, _ = write_server_certificate(repo.parent / "stranger", ["127.0.0.1"])
        other = _remote(server.address, detector, server_tls=True, server_certificate=str(stranger), server_key=KEY)
        other.set_source_file(str(media("fr_obama.jpg")))   # waits for a server it can trust
        assert other.process(frame, 0.0) is frame
        assert any("TLS handshake failed" in note for note in other.notes)


def test_a_server_without_our_models_says_how_to_make_them(tmp_path, detector):
    models = tmp_path / "models" / served.SWAPPER.name / "1"
    models.mkdir(parents=True)
    (models.parent / "config.pbtxt").write_text(
        'name: "faceswap_swapper"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n')
    (models / "model.py").write_text("class TritonPythonModel:\n    def execute(self, requests):\n        return []\n")
    with triton_server.TritonServer(tmp_path / "models") as running:
        with pytest.raises(FaceSwapError, match="faceswap triton-repo"):
            _remote(running.address, detector)


def test_worker_status_line_follows_the_server(server, detector, channel):
    """A real worker process: swapped and marked frames, then unswapped and unmarked ones
    while the server is away (the status line says so), then swapped again."""
    frame = cv2.cvtColor(_frames(1)[0], cv2.COLOR_BGR2BGRA)
    channel.write_settings({"engine": "neural", "runtime": "triton", "server": server.address,
                            "server_timeout_ms": SWAPS_TIMEOUT_MS, "detector_file": detector,
                            "source_photo": str(media("fr_obama.jpg"))})
    worker = start_worker(channel)

    def one_frame():
        hand_over(channel, frame)
        wait_until(channel.worker_free, what="the frame to be processed")
        return read_result(channel)

    try:
        wait_until(lambda: channel.state() in (link.STATE_RUNNING, link.STATE_ERROR), what="the worker to run")
        assert channel.state() == link.STATE_RUNNING, channel.error()
        assert f"neural on Triton {server.address}" in channel.note()
        assert not np.array_equal(one_frame(), frame) and channel.get("out_faces") == 1
        server.kill()
        assert np.array_equal(one_frame(), frame), "away: the frame comes back exactly as it went (no mark)"
        assert "away" in channel.note() and "pass through" in channel.note()
        server.start()
        wait_until(lambda: not np.array_equal(one_frame(), frame), timeout=30, what="swaps again")
        assert "away" not in channel.note()
    finally:
        worker.stdin.close()
        assert worker.wait(10) == 0


def test_doctor_checks_the_server(repo):
    """`faceswap doctor --server ...`: what answers, what is served, and the fix when not."""
    from faceswap_core.doctor import check_triton_server

    nothing = check_triton_server(f"127.0.0.1:{triton_server.free_port()}")
    assert nothing.ok is False and "away" in nothing.what and "start-server.sh" in nothing.fix
    with triton_server.TritonServer(repo / "models", key=KEY) as running:
        good = check_triton_server(running.address, key=KEY)
        wrong = check_triton_server(running.address, key="nope")
    assert good.ok is True, good
    assert "faceswap_recognizer (batches of 8), faceswap_swapper (batches of 8)" in good.what
    assert re.search(r"a one-face swap there and back in \d+\.\d ms", good.what)
    assert wrong.ok is False and "the key is not the server's" in wrong.what


def test_a_port_that_is_not_grpc_is_named_as_such():
    """A streamer who types Triton's HTTP port (8000) instead of its gRPC one (8001): a real
    HTTP server answers, and the status line says which port to use."""
    import http.server
    import threading

    from faceswap_core.remote.triton_link import TritonLink

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        link = TritonLink(f"127.0.0.1:{web.server_address[1]}", timeout_ms=TIMEOUT_MS)
        link.check()
        assert link.away and "does not speak gRPC" in link.status_words() and "8001" in link.status_words()
    finally:
        web.shutdown()


def _render(clip, out, *engine_flags, wait_s=None):
    # unmarked: each run's mark carries its own session, which would differ all over the frame
    flags = ["--source", media("fr_obama.jpg"), "--input", clip, "--output", out, "--engine", "neural",
             "--smoothing", "0", "--no-mark", *engine_flags]
    if wait_s is not None:
        flags += ["--server-wait", wait_s]
    return cli.run("swap", *flags)


def test_a_file_through_a_distant_server_on_a_busy_machine_swaps_every_frame(server, detector, recognizer_model,
                                                                              swapper_model, tmp_path):
    """`faceswap swap --runtime triton` on a clip, the server 100 ms away each way (the delay
    proxy: a simulation of distance, loopback only here) while every core is kept busy: no
    frame comes out unswapped for time (the live timeout of 150 ms would have dropped many),
    the frames equal the local models' run, and the closing line counts them."""
    clip = tmp_path / "clip.mp4"
    frames = _frames(12)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    local = _render(clip, tmp_path / "local.mp4", "--detector", detector, "--recognizer", recognizer_model,
                    "--swapper", swapper_model)
    assert local.returncode == 0, local.stderr
    with _far(server) as proxy, load.busy_cpus():
        remote = _render(clip, tmp_path / "remote.mp4", "--runtime", "triton", "--server", proxy.address,
                         "--detector", detector)
    assert remote.returncode == 0, remote.stderr
    for result in (local, remote):
        assert "(12 frames, all swapped;" in result.stdout, result.stdout
    got, want = read_frames(tmp_path / "remote.mp4"), read_frames(tmp_path / "local.mp4")
    assert len(got) == len(want) == 12
    for ours, theirs, frame in zip(got, want, frames):
        assert float(np.abs(ours.astype(int) - theirs).mean()) < 0.5
        assert float(np.abs(ours.astype(int) - frame).mean()) > 0.5      # swapped, not passed through


def test_a_stopped_server_stops_a_file_render_after_the_stated_wait(server, detector, tmp_path):
    """A file render never passes frames through silently: a server that does not answer
    ends the command with an error naming the wait and the fixes, after that wait."""
    server.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        result = _render(media("lp_d12.mp4"), tmp_path / "out.mp4", "--runtime", "triton", "--server",
                         server.address, "--detector", detector, wait_s=3)
        spent = time.monotonic() - started
    finally:
        server.signal(signal.SIGCONT)
    assert result.returncode == 2, result.stderr
    assert "gave no answer within 3 s" in result.stderr and "--server-fallback local" in result.stderr
    assert "Traceback" not in result.stderr
    assert 3.0 <= spent < 60, spent
    assert not (tmp_path / "out.mp4").exists()
