"""Engine and swap-option flags shared by the commands that swap faces."""

from __future__ import annotations

import argparse

from ..engines import DEFAULT_ENGINE, ENGINES, Engine, create_engine
from ..neural import cli_args as neural_args
from ..options import SwapOptions


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SwapOptions()
    group = parser.add_argument_group("swap options")
    group.add_argument("--engine", default=DEFAULT_ENGINE, choices=sorted(ENGINES),
                       help="; ".join(f"{name}: {info[2]}" for name, info in ENGINES.items()))
    group.add_argument("--face-index", type=int, default=0, help="which face of the source photo, 0 = largest")
    group.add_argument("--no-mouth-mask", dest="mouth_mask", action="store_false",
                       help="swap the mouth too (by default the target's own mouth shows through)")
    group.add_argument("--mouth-size", type=float, default=defaults.mouth_mask_size,
                       help="mouth mask size, 0.5-2.5 (default %(default)s)")
    group.add_argument("--keep-eyes", action="store_true", help="the target's own eyes show through")
    group.add_argument("--no-glasses", dest="keep_glasses", action="store_false",
                       help="drop the target's glasses (by default their frames stay in front of the swap)")
    group.add_argument("--opacity", type=float, default=defaults.opacity, help="0-1 (default %(default)s)")
    group.add_argument("--max-faces", type=int, default=defaults.max_faces, help="faces per frame (default %(default)s)")
    group.add_argument("--smoothing", type=float, default=defaults.smoothing,
                       help="0 = raw landmarks, 1 = steadiest (default %(default)s)")
    group.add_argument("--no-colour", dest="colour_correction", action="store_false",
                       help="keep the source photo's colours")
    neural_args.add_engine_arguments(parser)


def options_from_args(args: argparse.Namespace) -> SwapOptions:
    return SwapOptions(
        mouth_mask=args.mouth_mask,
        mouth_mask_size=args.mouth_size,
        keep_eyes=args.keep_eyes,
        keep_glasses=args.keep_glasses,
        opacity=args.opacity,
        max_faces=args.max_faces,
        smoothing=args.smoothing,
        colour_correction=args.colour_correction,
    ).clamped()


def engine_from_args(args: argparse.Namespace) -> Engine:
    kwargs = neural_args.engine_kwargs(args) if args.engine == "neural" else {}
    return create_engine(args.engine, options_from_args(args), **kwargs)
