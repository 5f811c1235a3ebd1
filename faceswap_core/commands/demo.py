"""`faceswap demo`: a swap on pictures that come with the installed packages, so a fresh
install can be checked with no download and no photo of one's own.

Source: scikit-image's astronaut (Eileen Collins, NASA, public domain). Target:
matplotlib's sample portrait of Grace Hopper (US Navy, public domain).
"""

from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

from ..errors import FaceSwapError
from ..provenance.stamp import OutputStamp
from .engine_args import add_engine_arguments, engine_from_args, values_from_args
from .swap import sign_output


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="swap faces on bundled sample pictures (no download)",
                                   description="Writes a side-by-side image: source, target, result.")
    parser.add_argument("--output", default="faceswap-demo.png", help="where to write it (default %(default)s)")
    add_engine_arguments(parser)
    parser.set_defaults(handler=run)


def sample_pictures() -> tuple[np.ndarray, np.ndarray]:
    """(source, target) as BGR uint8, from files inside installed wheels."""
    try:
        from skimage import data
        from matplotlib import cbook
    except ImportError:
        raise FaceSwapError("The demo pictures come with scikit-image and matplotlib; run: pip install scikit-image matplotlib") from None
    source = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        target = cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_COLOR)
    return source, target


def run(args: argparse.Namespace) -> int:
    source, target = sample_pictures()
    engine = engine_from_args(args)
    values = values_from_args(args)
    stamp = OutputStamp(values)
    engine.set_source(source, args.face_index)
    result = engine.process_image(target)
    if not engine.last_report.boxes:
        raise FaceSwapError("No face was swapped in the demo picture; run `faceswap doctor` to check the install.")
    height = target.shape[0]
    panels = [cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height), interpolation=cv2.INTER_AREA)
              for image in (source, target, result)]
    stamp.draw_label(panels[2])
    side_by_side = np.hstack(panels)
    stamp.embed_mark(side_by_side)   # over the whole written picture, so `faceswap verify` finds it
    path = os.path.abspath(args.output)
    if not cv2.imwrite(path, side_by_side):
        raise FaceSwapError(f"Could not write '{path}'; choose a writable place with --output.")
    stages = ", ".join(f"{name} {ms:.1f} ms" for name, ms in engine.last_report.stage_ms.items())
    print(f"Wrote {path} (source | target | result; {stamp.describe() or 'unmarked'}). {stages}")
    if values["credentials"]:
        sign_output(path, values, parent=None, photo=None, stamp=stamp)
    return 0
