"""The process that swaps faces for one OBS filter instance.

Started by the filter with the configured interpreter:

    python -m faceswap_core.worker --channel fd:5 --token 5f3a... --owner-pid 1234

`fd:5` is the channel's shared memory, inherited from the filter (a sealed memfd on
Linux, POSIX shared memory on macOS); Windows passes a named mapping (`map:SIZE:NAME`).
The worker maps the channel (validating every header field first), checks that it is
the one meant for it (link.recognise), applies the settings the filter publishes in the
header, and answers each frame the filter hands over with its swapped version. It
reports its state, speed and last error back through the header.

It exits by itself when the filter or OBS goes away: its stdin (a pipe from OBS) reaches
end of file, the owner process disappears, or a channel file is removed.
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from typing import NamedTuple

from .. import link
from ..errors import FaceSwapError
from .in_flight import InFlight
from ..link import Channel, ChannelError, liveness, pixel_formats
from ..frame_memory import keep_freed_frames
from ..opencv_threads import sleep_between_loops

MAX_IN_FLIGHT = 2           # frames begun and not yet published, for an engine whose models run on a server
IDLE_SLEEP_S = 0.002        # poll interval while waiting for a frame
RESTING_SLEEP_S = 0.01      # ... once none came for RESTING_AFTER_S (the source hidden, OBS idle):
RESTING_AFTER_S = 1.0       # a worker polling at 2 ms used 1.5-1.75% of a core with no frames to do
WAITING_SLEEP_S = 0.02      # poll interval while no frames are wanted (no photo, error)
LIVENESS_EVERY_S = 0.25     # how often the owner and the file are checked
HEARTBEAT_EVERY_S = 0.1     # the filter declares a worker hung when this stops (see supervisor)
STACKS_AFTER_S = 1.0        # no beat this long: the watchdog writes every thread's stack
FRAME_ERRORS_LOGGED = 3     # tracebacks printed for engine errors on frames (then every 1000th)


class OwnerWatch:
    """Knows when the filter side is gone: stdin EOF, owner pid gone, or file removed
    (a memfd cannot be removed; stdin and the owner's pid cover it)."""

    def __init__(self, channel: Channel, owner_pid: int, watch_stdin: bool):
        self.channel = channel
        self.owner_pid = owner_pid
        self.gone = threading.Event()
        self._next_check = 0.0
        if watch_stdin:
            threading.Thread(target=self._read_stdin, name="stdin-eof", daemon=True).start()

    def _read_stdin(self) -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        self.gone.set()

    def owner_gone(self) -> bool:
        if self.gone.is_set():
            return True
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + LIVENESS_EVERY_S
        if not self.channel.is_linked() or (self.owner_pid and not liveness.pid_alive(self.owner_pid)):
            self.gone.set()
        return self.gone.is_set()


class Heartbeat:
    """Bumps the channel's heartbeat counter from its own thread, so a frozen or stopped
    process shows.

    A thread and not the main loop: loading an engine or a photo legitimately takes
    longer than the filter's patience; SIGSTOP, a deadlock holding the GIL or a machine
    that stops scheduling us stop every thread alike. With `watchdog`, each beat also
    re-arms faulthandler's own watchdog (a C thread that needs no GIL): when the beats
    stop for STACKS_AFTER_S while the process still runs, every thread's stack goes to
    stderr, which the filter logs. That is how a hung worker shows where it was on
    systems with no signal to ask for stacks (Windows).
    """

    def __init__(self, channel: Channel, watchdog: bool = False):
        self.channel = channel
        self.watchdog = watchdog
        self._stop = threading.Event()
        self.beat()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Before the channel closes: no beat may land on an unmapped channel."""
        self._stop.set()
        self._thread.join(1.0)
        if self.watchdog:
            faulthandler.cancel_dump_traceback_later()

    def beat(self) -> None:
        if self.channel.mm is not None:
            self.channel.beat()
            if self.watchdog:
                faulthandler.dump_traceback_later(STACKS_AFTER_S)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            try:
                self.beat()
            except (ValueError, TypeError):   # the channel was closed under us: we are exiting
                return


def expected_creator(owner_pid: int) -> int | None:
    """Which process must have created our channel: our parent, except on Windows, where
    a venv's python.exe is a launcher that runs the real interpreter as its child (the
    filter tells us its pid), and where we are told no owner (0: across Flatpak's
    sandbox pids mean nothing, and the token alone pairs us)."""
    if not owner_pid:
        return None
    return owner_pid if os.name == "nt" else os.getppid()


class Flight(NamedTuple):
    """A frame begun and not yet published: the engine's answer to come, the engine's
    own copy of the picture, where the input planes are for the write-back (the slot, or
    a copy once the slot was let go of), the frame's colour matrix, when it was taken."""
    frame: link.Frame
    answer: InFlight
    image: object
    planes: tuple | None
    matrix: tuple | None
    started: float
    let_go: bool


class Worker:
    """Settings in, frames in, swapped frames out; one engine at a time."""

    def __init__(self, channel: Channel, watch: OwnerWatch):
        import numpy as np  # the worker's own venv; never imported inside OBS

        self.np = np
        self.channel = channel
        self.watch = watch
        self.engine = None
        self.engine_key = None
        self.noted = 0    # engine notes already in the status note
        self.in_front_said = ""   # what the status note says about what is in front of the faces
        self.source_key = None
        self.face_in_use = (0, 1, "")   # the face worn: its number, of how many, its file's name
        self.faces_unready: list[str] = []   # the list's faces that could not be prepared, in words
        self.settings_seq = -1
        self.fps = 0.0
        self.last_frame_done = None
        self.frame_errors = 0
        self.flights: collections.deque[Flight] = collections.deque()   # begun, not yet published; oldest first
        self.stamp = None   # label and mark for this worker's session (provenance.stamp)

    # -- settings ------------------------------------------------------------------
    def apply_settings(self) -> None:
        """Pick up settings the filter published since last time: options live, a new
        source photo prepared, a changed engine option (runtime, provider, model file...)
        opens the engine again."""
        published = self.channel.read_settings(since=self.settings_seq)
        if published is None:
            return
        seq, settings = published
        self.settings_seq = seq
        from .. import schema
        from ..engines import create_engine
        from ..engines.base import listed_faces
        from ..options import SwapOptions

        values = schema.clamped(settings)
        options = SwapOptions.from_mapping(values)
        if self.stamp is None:
            from ..provenance.stamp import OutputStamp
            self.stamp = OutputStamp(values)
        else:
            self.stamp.set_values(values)
        name = values.get("engine", schema.DEFAULT_ENGINE)
        engine_options = schema.engine_options(values)
        engine_key = (name, repr(sorted(engine_options.items())))
        try:
            if self.engine is None or engine_key != self.engine_key:
                # frames begun by the engine being replaced are not answered; live options
                # (a slider being dragged) apply to frames in flight as they are finished
                self.drop_flights()
                self.report(link.STATE_STARTING, "")   # loading: the filter shows originals meanwhile
                if self.engine is not None:
                    self.engine.close()
                self.engine, self.engine_key, self.source_key = None, None, None
                self.engine = create_engine(name, options, **engine_options)
                self.engine_key = engine_key
            else:
                self.engine.set_options(options)
            photo = values.get("source_photo", "")
            if not photo:
                self.report(link.STATE_NO_SOURCE, "Choose a source photo in the filter's properties.")
                self.source_key = None
                return
            faces = listed_faces(photo, values.get("face_index", 0), values.get("extra_photos", ()),
                                 values.get("more_faces", ()))
            source_key = (faces, min(values.get("face_in_use", 0), len(faces) - 1))
            if self.source_key != source_key:
                wearing = self.source_key is not None
                try:
                    self.use_faces(*source_key)
                except FaceSwapError as error:
                    if not wearing:
                        raise
                    # a photo picked while streaming that cannot be worn: the face worn until
                    # now stays on, rather than the camera's own (the streamer's unswapped face)
                    name = os.path.basename(source_key[0][source_key[1]][0])
                    self.report(link.STATE_RUNNING, f"{name}: {error} Until then the face worn before stays on.",
                                self.status_note())
                    return
                self.source_key = source_key
            self.report(link.STATE_RUNNING, "", self.status_note())
        except FaceSwapError as error:
            self.report(link.STATE_ERROR, str(error))

    def use_faces(self, faces: tuple, in_use: int) -> None:
        """Wear faces[in_use]. A changed list is prepared whole, so that a switch later (a
        hotkey) shows the next face on the very next frame; a face of the list that cannot
        be prepared is named in the status line. The face to wear is prepared first: when it
        cannot be (no face in the photo, an unreadable file), FaceSwapError goes up with
        nothing changed, and the face worn until then stays on."""
        listed = self.source_key is not None and self.source_key[0] == faces
        worn = faces[in_use]
        self.engine.set_source_file(*worn)
        self.source_key = None
        if not listed:
            self.faces_unready = []
            self.engine.forget_faces(list(faces))
            for number, face in enumerate(faces):
                if number == in_use:
                    continue
                try:
                    self.engine.set_source_file(*face)
                except FaceSwapError as error:
                    self.faces_unready.append(f"face {number} ({os.path.basename(face[0])}) is not ready: {error}")
            if len(faces) > 1:
                self.engine.set_source_file(*worn)   # prepared above: worn again at once
        self.face_in_use = (in_use, len(faces), os.path.basename(worn[0]))
        if not listed:
            self.engine.reset()

    def status_note(self) -> str:
        """What runs and how the source was made, then the photo's tips (the status line
        shows it as it is)."""
        engine = self.engine
        info = engine.source_info
        in_front = engine.last_report.in_front
        number, count, name = self.face_in_use
        wearing = f"face {number} of {count}: {name}" if count > 1 else ""
        parts = [engine.describe(), wearing, self.stamp.describe(), in_front, *engine.notes, *(info.notes if info else ()),
                 *self.faces_unready]
        parts = [part for part in parts if part]
        parts += [f"photo tip: {tip}" for tip in (info.tips if info else ())]
        self.noted = len(engine.notes)
        self.in_front_said = in_front
        return " | ".join(parts)

    def report(self, state: int, error: str, note: str = "") -> None:
        self.channel.set_error(error)
        self.channel.set_note(note)
        self.channel.set_state(state)

    # -- frames --------------------------------------------------------------------------
    def process_pending(self) -> bool:
        """Begin the frame in the input slot if there is a new one, and publish the answers
        that are in (in order); True if anything was done.

        An engine whose models run on a server (`overlaps`) lets go of the input slot as
        soon as it holds its own copy and begins the next frame while the server works on
        this one: up to MAX_IN_FLIGHT frames in flight. An answer already in is published
        before the next frame's own work starts, so overlapping only ever adds to a frame's
        wait while its answer is not in yet."""
        channel = self.channel
        exchange = channel.exchange
        worked = False
        frame = exchange.take_frame() if len(self.flights) < MAX_IN_FLIGHT else None
        if frame is not None:
            if channel.state() != link.STATE_RUNNING or self.engine is None:
                self.drop_flights()
                exchange.skip_frame()   # not wanted now; free the filter to move on
                return False
            if self.flights and self.flights[0].answer.ready():
                self._finish(self.flights.popleft())
            self.flights.append(self._begin(frame))
            worked = True
        overlapping = self.engine is not None and self.engine.overlaps
        while self.flights and (not overlapping or len(self.flights) >= MAX_IN_FLIGHT
                                or self.flights[0].answer.ready()):
            self._finish(self.flights.popleft())
            worked = True
        return worked

    def wait_for_answer(self, timeout: float) -> bool:
        """Wait up to `timeout` for the oldest frame in flight to be answerable; False when
        none is in flight (the caller sleeps instead)."""
        if not self.flights:
            return False
        self.flights[0].answer.wait(timeout)
        return True

    def drop_flights(self) -> None:
        """Frames in flight are not answered (their engine replaced, an error, frames not
        wanted now): OBS is told they are done, so none looks stuck, and their answers are
        never taken."""
        while self.flights:
            self.channel.exchange.answered(self.flights.popleft().frame, let_go=False)

    def _begin(self, frame) -> "Flight":
        """The frame copied out of the input slot and begun; an overlapping engine's input
        slot is free again right after the copy."""
        from . import pixel_convert

        np = self.np
        channel = self.channel
        started = time.perf_counter()
        let_go = self.engine.overlaps
        planes = matrix = None
        if frame.format == pixel_formats.BGRA:
            view = np.ndarray((frame.height, frame.width, 4), np.uint8, channel.mm, channel.in_offset,
                              (frame.stride, 4, 1))
            image = view.copy()
            del view
        else:
            geometry = (frame.format, frame.width, frame.height, frame.plane_strides())
            matrix = channel.exchange.colour_matrix()
            if let_go:   # the planes are needed again when the answer is written back
                size = pixel_formats.frame_bytes(*geometry)
                planes = (np.frombuffer(channel.mm, np.uint8, size, channel.in_offset).copy(), 0)
            else:
                planes = (channel.mm, channel.in_offset)
            inputs = pixel_convert.plane_views(*planes, *geometry)
            try:
                image = pixel_convert.to_bgr(inputs, frame.format, frame.width, frame.height, matrix)
            finally:
                del inputs   # no view may outlive the mapping
        if let_go:
            channel.exchange.let_go(frame)
        return Flight(frame, self._begin_swap(image), image, planes, matrix, started, let_go)

    def _finish(self, flight: "Flight") -> None:
        """The frame's answer into a free output slot, published; the frame passes through
        unchanged when the engine failed on it."""
        channel = self.channel
        exchange = channel.exchange
        out = self._swap_result(flight.answer, flight.image)
        slot = exchange.claim_output()
        if slot is None:   # OBS's render thread holds both slots: drop this one rather than tear it
            exchange.answered(flight.frame, let_go=not flight.let_go)
            return
        if flight.frame.format == pixel_formats.BGRA:
            stride, faces = self._write_bgra(flight, out, channel.output_offset(slot))
        else:
            stride, faces = self._write_planes(flight, out, channel.output_offset(slot))
        exchange.publish_result(flight.frame, stride, faces, int((time.perf_counter() - flight.started) * 1e6),
                                let_go=not flight.let_go)
        if len(self.engine.notes) != self.noted or self.engine.last_report.in_front != self.in_front_said:
            channel.set_note(self.status_note())   # the engine changed course (fp16 -> fp32), a hand came or went
        self._count_frame(liveness.now_ns())

    def _write_bgra(self, flight, out, offset: int) -> tuple[int, int]:
        """A BGRA frame (every render-path frame, some camera ones): BGRA out, same line size."""
        np = self.np
        frame, image = flight.frame, flight.image
        swapped = self.swapping(out, image)
        if swapped:
            self.stamp.apply(out)
        stride = frame.stride   # the input's line size: a camera-path BGRA frame is pasted back as it came
        target = np.ndarray((frame.height, frame.width, 4), np.uint8, self.channel.mm, offset, (stride, 4, 1))
        target[...] = out
        del target
        return stride, len(self.engine.last_report.boxes) if out is not image else 0

    def _write_planes(self, flight, out, offset: int) -> tuple[int, int]:
        """The camera path's frame, in its source's own format: only the swapped pixels
        converted back (pixel_convert)."""
        from . import pixel_convert

        frame, image, matrix = flight.frame, flight.image, flight.matrix
        geometry = (frame.format, frame.width, frame.height, frame.plane_strides())
        inputs = pixel_convert.plane_views(*flight.planes, *geometry)
        outputs = pixel_convert.plane_views(self.channel.mm, offset, *geometry)
        try:
            swapped = self.swapping(out, image)
            if swapped:
                self.stamp.draw_label(out)
            pixel_convert.write_back(outputs, inputs, image, out, frame.format, frame.width, frame.height, matrix)
            if swapped:   # the mark on brightness only: straight onto Y when the frame is YUV
                pixel_convert.change_brightness(outputs, frame.format, frame.width, frame.height,
                                                self.stamp.embed_mark)
        finally:
            del inputs, outputs   # no view may outlive the mapping
        return frame.stride, len(self.engine.last_report.boxes) if swapped else 0

    def swapping(self, out, image) -> bool:
        """The engine swapped this frame (not passed through after an error, not switched
        off, or switched off but still fading out of the swap): only then does it get the
        label and the mark."""
        return out is not image and (self.engine.options.enabled or bool(self.engine.last_report.boxes))

    def _begin_swap(self, frame) -> InFlight:
        """The engine's answer to come, or the frame itself when the engine fails on it
        (here or in _swap_result).

        One bad frame (a bug, a numeric corner case) must not end the stream: the frame
        goes back unchanged and the next one is tried again. FaceSwapError is the user's
        to fix (a bad photo) and goes up to the main loop.
        """
        try:
            return self.engine.begin(frame)
        except FaceSwapError:
            raise
        except Exception as error:
            self._engine_failed(error)
            return InFlight.done(frame)

    def _swap_result(self, answer: InFlight, frame):
        np = self.np
        try:
            out = answer.result()
            if out.shape != frame.shape or out.dtype != np.uint8:
                raise RuntimeError(f"engine returned {out.shape} {out.dtype} for {frame.shape}")
            return out
        except FaceSwapError:
            raise
        except Exception as error:
            self._engine_failed(error)
            return frame

    def _engine_failed(self, error: Exception) -> None:
        self.frame_errors += 1
        if self.frame_errors <= FRAME_ERRORS_LOGGED or self.frame_errors % 1000 == 0:
            print(f"faceswap worker: engine error on a frame ({self.frame_errors} so far); it passes through:",
                  file=sys.stderr)
            traceback.print_exc()
        self.channel.set_error(f"Engine error on a frame (shown unswapped): {type(error).__name__}: {error}")

    def _count_frame(self, done_ns: int) -> None:
        if self.last_frame_done is not None:
            interval = max((done_ns - self.last_frame_done) / 1e9, 1e-6)
            rate = 1.0 / interval
            self.fps = rate if self.fps == 0.0 else 0.9 * self.fps + 0.1 * rate
            self.channel.set_fps(self.fps)
        self.last_frame_done = done_ns

    def run(self) -> int:
        while not self.watch.owner_gone():
            self.apply_settings()
            try:
                worked = self.process_pending()
            except ChannelError as error:
                self.report(link.STATE_ERROR, f"Bad frame from OBS: {error}.")
                self.drop_flights()
                self.channel.exchange.skip_frame()
                worked = False
            except FaceSwapError as error:   # something the user can fix; wait for new settings
                self.report(link.STATE_ERROR, str(error))
                self.drop_flights()
                self.channel.exchange.skip_frame()
                worked = False
            if not worked and not self.wait_for_answer(IDLE_SLEEP_S):
                time.sleep(self._poll_s())
        return 0

    def _poll_s(self) -> float:
        """How long to sleep before looking for a frame again: quickly while frames come;
        a little less quickly once none came for a while, which costs the first frame after
        it at most RESTING_SLEEP_S (where its answer comes late, the filter shows the last
        one meanwhile); slowly while none are wanted."""
        if self.channel.state() != link.STATE_RUNNING:
            return WAITING_SLEEP_S
        last = self.last_frame_done
        if last is None or liveness.now_ns() - last > RESTING_AFTER_S * 1e9:
            return RESTING_SLEEP_S
        return IDLE_SLEEP_S

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m faceswap_core.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", required=True,
                        help="the channel the filter created: fd:N (inherited), map:SIZE:NAME (Windows), or a file")
    parser.add_argument("--token", required=True, help="the channel's pairing token (hex), from the filter")
    parser.add_argument("--owner-pid", type=int, default=0,
                        help="the filter's OBS: exit when it is gone (0: not known here, as across Flatpak's sandbox)")
    parser.add_argument("--stack-watchdog", action="store_true",
                        help="write every thread's stack when the heartbeat stops (on where no signal asks for them)")
    parser.add_argument("--no-stdin-watch", action="store_true", help="do not exit on stdin EOF (tests)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    can_signal = hasattr(signal, "SIGUSR1")
    if can_signal:
        # Before the filter kills us as hung, it asks where every thread is: the stacks go
        # to stderr (a file the filter reads), so OBS's log says where the worker was stuck.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sleep_between_loops()   # before an engine imports cv2
    keep_freed_frames()
    try:
        channel = Channel.attach(args.channel)
    except ChannelError as error:
        print(f"faceswap worker: {error}", file=sys.stderr)
        return 2
    try:
        link.recognise(channel, args.token, expected_creator(args.owner_pid))
    except (ChannelError, OSError) as error:
        print(f"faceswap worker: refusing the channel: {error}", file=sys.stderr)
        channel.close(unlink=False)
        return 2
    watch = OwnerWatch(channel, args.owner_pid, watch_stdin=not args.no_stdin_watch)
    channel.announce_worker(os.getpid())
    heartbeat = Heartbeat(channel, watchdog=args.stack_watchdog or not can_signal)
    worker = None
    code = 0
    try:
        worker = Worker(channel, watch)
        code = worker.run()
    except KeyboardInterrupt:
        code = 0
    except Exception as error:  # a bug: keep the traceback for the log, the gist for the UI
        traceback.print_exc()
        channel.set_error(f"Worker crashed: {type(error).__name__}: {error}")
        channel.set_state(link.STATE_ERROR)     # the filter explains the exit with the error only in this state
        code = 1
    finally:
        heartbeat.stop()
        if worker is not None:
            worker.close()
        owner_gone = watch.owner_gone()
        if code == 0:
            channel.set_state(link.STATE_STOPPED)
        channel.close(unlink=owner_gone and not liveness.pid_alive(args.owner_pid))
    return code
