"""`faceswap swap`: one photo's face onto an image, a video, a camera or a screen."""

from __future__ import annotations

import argparse
import dataclasses
import contextlib
import os
import sys
from collections import Counter, deque

from ..errors import FaceSwapError
from ..worker.in_flight import InFlight
from ..media import Frame, FrameSink, PreviewWindow, open_sink, open_source
from ..progress import Progress
from ..provenance import credentials
from ..provenance.stamp import OutputStamp
from .engine_args import add_engine_arguments, engine_from_args, values_from_args

FILE_WAIT_S = 60.0   # a file render's wait for a server's answer: long, as nobody watches the frame


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "swap", help="swap a photo's face into an image, video, camera or screen",
        description="Swap the face from --source into every face of --input.")
    parser.add_argument("--source", required=True, action="append",
                        help="photo of the face to wear; give it again for more faces, switched in the preview "
                             "with n and p (or 0-9), the swap on and off with the space bar")
    parser.add_argument("--input", required=True, help="image, video file, camera:N or screen[:N]")
    parser.add_argument("--output", help="image or video file to write (.png/.jpg or .mp4); video keeps fps and audio")
    parser.add_argument("--preview", action="store_true", help="show the result in a window (q to quit)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames (live inputs run until q or Ctrl+C)")
    parser.add_argument("--server-wait", type=float, default=FILE_WAIT_S, metavar="SECONDS",
                        help="a file (not a camera or screen) through a Triton server: each frame waits this long "
                             "for the server's answer, asking again while it is away, before the command stops "
                             "with an error (no frame is left unswapped for time; default %(default)s)")
    add_engine_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.output and not args.preview:
        raise FaceSwapError("Nothing to do: give --output FILE, --preview, or both.")
    values = values_from_args(args)
    stamp = OutputStamp(values)
    with contextlib.ExitStack() as cleanup:
        source = open_source(args.input)
        cleanup.callback(source.close)
        engine = engine_from_args(args, 0.0 if source.live else args.server_wait)
        cleanup.callback(engine.close)
        from ..engines.base import listed_faces

        faces = listed_faces(args.source[0], args.face_index, args.extra_photos or (), args.source[1:])
        for other in faces[1:]:   # ready first, worn by a key in the preview (FaceKeys)
            engine.set_source_file(*other)
        info = engine.set_source_file(*faces[0])
        if info.faces_found > 1:
            print(f"The source photo has {info.faces_found} faces; using face {info.face_index} "
                  "(choose another with --face-index).", file=sys.stderr)
        for note in info.notes:
            print(f"Source: {note}.", file=sys.stderr)
        for tip in info.tips:
            print(f"Tip: {tip}", file=sys.stderr)
        keys = FaceKeys(engine, faces)
        render = Render(args.output, source, PreviewWindow(keys.help if len(faces) > 1 else "")
                        if args.preview else None, stamp)
        cleanup.callback(render.close)
        total = source.total if args.max_frames is None else min(source.total or args.max_frames, args.max_frames)
        progress = Progress(total if not source.is_still else None, "swapping", force=False)
        cleanup.callback(progress.close)
        # a server's models: the next frame is begun while the server works on this one, as the
        # worker does, so a distant server costs throughput, not swaps
        depth = 2 if engine.overlaps and not source.is_still else 1
        flights: deque = deque()

        def deliver(keep: int) -> None:
            """Take the oldest frames' results, in order, until `keep` are left in flight."""
            while len(flights) > keep and render.going:
                frame, flight = flights.popleft()
                render.take(frame, flight.result(), engine.last_report)
                progress.advance()

        begun = 0
        for frame in source.frames():
            if source.is_still:
                flights.append((frame, InFlight.done(engine.process_image(frame.image))))
            else:
                flights.append((frame, engine.begin(frame.image, frame.timestamp)))
            begun += 1
            deliver(depth - 1)
            if render.preview is not None:
                keys.press(render.preview.take_key())
            if not render.going or (args.max_frames is not None and begun >= args.max_frames):
                break
        deliver(0)
    for note in engine.notes:
        print(f"Note: {note}.", file=sys.stderr)
    if args.output:
        print(f"Wrote {args.output} ({render.counts()}; {stamp.describe() or 'unmarked'}).")
        if values["credentials"] and render.written:
            sign_output(args.output, values, parent=args.input, photo=args.source[0], stamp=stamp)
    return 0


class FaceKeys:
    """The preview's keys, as the OBS filter's hotkeys (faceswap_core.obs.hotkeys decides
    what a press changes): n / p the next and previous face of the --source photos (round
    the list), 0-9 wear that face, the space bar the swap on and off."""

    help = "n/p: face, space: swap on/off"

    def __init__(self, engine, faces: tuple):
        """faces: as engines.base.listed_faces gives them, every one prepared already."""
        from ..obs import hotkeys

        self._pressed = hotkeys.pressed
        self.engine, self.faces = engine, faces
        self.worn = 0
        by_key = {hotkey.key: hotkey for hotkey in hotkeys.HOTKEYS}
        self._keys = {ord("n"): by_key["next_face"], ord("p"): by_key["previous_face"], ord(" "): by_key["toggle"],
                      **{ord(str(number)): hotkeys.Hotkey(f"face_{number}", "", "face", number) for number in range(10)}}

    def press(self, key: int | None) -> None:
        hotkey = self._keys.get(key)
        if hotkey is None:
            return
        changes = self._pressed(hotkey, {"enabled": self.engine.options.enabled, "more_faces": self.faces[1:],
                                         "face_in_use": self.worn})
        if "enabled" in changes:
            self.engine.set_options(dataclasses.replace(self.engine.options, enabled=changes["enabled"]))
        if changes.get("face_in_use", self.worn) != self.worn:
            self.worn = changes["face_in_use"]
            self.engine.set_source_file(*self.faces[self.worn])   # prepared at the start: only worn now


class Render:
    """Where the swapped frames go (marked or labelled as the stamp says; the output file,
    the preview), and what is counted for the closing line: how many were swapped, and
    why the others were not."""

    def __init__(self, output: str | None, source, preview: PreviewWindow | None, stamp: OutputStamp):
        self.output, self.source, self.preview, self.stamp = output, source, preview, stamp
        self.sink: FrameSink | None = None
        self.written = 0
        self.unswapped: Counter = Counter()
        self.going = True     # False once the preview is closed

    def take(self, frame: Frame, result, report) -> None:
        """One frame's answer out. A video file's 4:2:0 frame goes out as its own planes with
        the pixels the swap (and the label) changed converted back, and the mark on its Y
        plane, as the OBS worker does with a camera's frames."""
        if self.output and self.sink is None:
            self.sink = open_sink(self.output, self.source, result.shape[1], result.shape[0])
        if frame.planes is None:
            self.stamp.apply(result)
            if self.sink is not None:
                self.sink.write(result)
        else:
            if result is frame.image and self.stamp.label is not None:
                result = result.copy()   # the engine's "nothing changed": the label must show as a change
            self.stamp.draw_label(result)
            self.source.stream.write_back(frame, result)
            self.stamp.embed_mark(frame.planes[0])
            if self.sink is not None:
                self.sink.write_planes(frame.planes)
        self.written += 1
        if report.why_unswapped:
            self.unswapped[report.why_unswapped] += 1
        if self.preview is not None and not self.preview.show(result):
            self.going = False

    def counts(self) -> str:
        """'352 frames, all swapped' or '352 frames: 340 swapped, 12 unswapped (no face was found: 12)'."""
        frames = f"{self.written} frame{'s' if self.written != 1 else ''}"
        missed = sum(self.unswapped.values())
        if not missed:
            return f"{frames}, {'all ' if self.written > 1 else ''}swapped" if self.written else frames
        why = "; ".join(f"{reason}: {count}" for reason, count in self.unswapped.most_common())
        return f"{frames}: {self.written - missed} swapped, {missed} unswapped ({why})"

    def close(self) -> None:
        if self.preview is not None:
            self.preview.close()
        if self.sink is not None:
            self.sink.close()


def sign_output(path: str, values: dict, *, parent: str | None, photo: str | None, stamp: OutputStamp) -> None:
    """Content credentials into a file just written. The file is good either way, so a
    failure is said, not fatal."""
    if os.path.splitext(path)[1].lower() not in credentials.MIME:
        print(f"Note: no content credentials in '{os.path.basename(path)}': they are written into PNG, JPEG, "
              "MP4 and MOV files.", file=sys.stderr)
        return
    try:
        identity, made = credentials.chosen_identity(values)
        credentials.sign_file(path, identity, parent=parent, photo=photo,
                              session_id=stamp.session_id if stamp.marker is not None else None,
                              names=values["credential_names"])
    except FaceSwapError as error:
        print(f"Note: {error}", file=sys.stderr)
        return
    print(f"Signed its content credentials (C2PA){'; ' + made if made else ''}.")
