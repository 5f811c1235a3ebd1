"""The `faceswap` command: each subcommand lives in faceswap_core/commands/<name>.py.

A command module has `register(subparsers)` that adds its parser (with `run` set as the
parser's default `handler`). Errors the user can fix are FaceSwapError and are printed as
one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import FaceSwapError
from .native_logs import filter_native_stderr
from .frame_memory import keep_freed_frames
from .opencv_threads import sleep_between_loops

# Subcommands in the order --help lists them.
COMMANDS = ["swap", "verify", "sign", "demo", "bench", "models", "triton-repo", "credentials", "doctor"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceswap", description="One-photo face swap for images, video, cameras and OBS.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name.replace('-', '_')}", __package__).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    filter_native_stderr()
    sleep_between_loops()   # before the commands import cv2
    keep_freed_frames()
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except FaceSwapError as error:
        print(f"faceswap: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("faceswap: stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
