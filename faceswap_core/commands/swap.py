"""`faceswap swap`: one photo's face onto an image, a video, a camera or a screen."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import FaceSwapError
from ..media import FrameSink, PreviewWindow, open_sink, open_source
from ..progress import Progress
from ..provenance import credentials
from ..provenance.stamp import OutputStamp
from .engine_args import add_engine_arguments, engine_from_args, values_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "swap", help="swap a photo's face into an image, video, camera or screen",
        description="Swap the face from --source into every face of --input.")
    parser.add_argument("--source", required=True, help="photo of the face to wear")
    parser.add_argument("--input", required=True, help="image, video file, camera:N or screen[:N]")
    parser.add_argument("--output", help="image or video file to write (.png/.jpg or .mp4); video keeps fps and audio")
    parser.add_argument("--preview", action="store_true", help="show the result in a window (q to quit)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames (live inputs run until q or Ctrl+C)")
    add_engine_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.output and not args.preview:
        raise FaceSwapError("Nothing to do: give --output FILE, --preview, or both.")
    engine = engine_from_args(args)
    values = values_from_args(args)
    stamp = OutputStamp(values)
    info = engine.set_source_file(args.source, args.face_index, args.extra_photos or ())
    if info.faces_found > 1:
        print(f"The source photo has {info.faces_found} faces; using face {info.face_index} "
              "(choose another with --face-index).", file=sys.stderr)
    for note in info.notes:
        print(f"Source: {note}.", file=sys.stderr)
    for tip in info.tips:
        print(f"Tip: {tip}", file=sys.stderr)
    source = open_source(args.input)
    preview = PreviewWindow() if args.preview else None
    sink: FrameSink | None = None
    total = source.total if args.max_frames is None else min(source.total or args.max_frames, args.max_frames)
    progress = Progress(total if not source.is_still else None, "swapping", force=False)
    written = 0
    try:
        for frame in source.frames():
            if source.is_still:
                result = engine.process_image(frame.image)
            else:
                result = engine.process(frame.image, frame.timestamp)
            stamp.apply(result)
            if args.output and sink is None:
                sink = open_sink(args.output, source, result.shape[1], result.shape[0])
            if sink is not None:
                sink.write(result)
            written += 1
            progress.advance()
            if preview is not None and not preview.show(result):
                break
            if args.max_frames is not None and written >= args.max_frames:
                break
    finally:
        progress.close()
        source.close()
        engine.close()
        if preview is not None:
            preview.close()
        if sink is not None:
            sink.close()
    for note in engine.notes:
        print(f"Note: {note}.", file=sys.stderr)
    if args.output:
        print(f"Wrote {args.output} ({written} frame{'s' if written != 1 else ''}; {stamp.describe() or 'unmarked'}).")
        if values["credentials"] and written:
            sign_output(args.output, values, parent=args.input, photo=args.source, stamp=stamp)
    return 0


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
