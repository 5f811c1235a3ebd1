"""`faceswap verify`: whether pictures and videos say they were made with a face swap."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import FaceSwapError
from ..provenance.verify import check_file, files_under


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="whether pictures and videos say they are a face swap",
        description="Looks for the invisible mark obs-faceswap lays on what it makes and for content credentials "
                    "(C2PA), one line per file. Exit status: 0 = every file says it is a face swap (the mark, or "
                    "valid credentials naming a face swap); 1 = nothing in some file says so (which proves nothing "
                    "about it; other credentials found, such as a camera's own, are named); 2 = some file's "
                    "credentials are invalid.")
    parser.add_argument("paths", nargs="+", metavar="FILE", help="pictures, videos, or folders of them")
    parser.add_argument("--json", action="store_true", help="one JSON object per file, on one list")
    parser.add_argument("--trust", metavar="PEM", action="append", default=[],
                        help="a root certificate to trust (another install's root.pem, printed by "
                             "`faceswap credentials`); repeat for several")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    anchors = "".join(_read_anchor(path) for path in args.trust)
    files = files_under(args.paths)
    if not files:
        print("No pictures or videos there.", file=sys.stderr)
        return 1
    reports = []
    for path in files:
        report = check_file(path, progress=False, anchors_pem=anchors)
        reports.append(report)
        if not args.json:
            print(report.line(), flush=True)
    if args.json:
        print(json.dumps([report.as_dict() for report in reports], indent=2))
    return max(report.status for report in reports)


def _read_anchor(path: str) -> str:
    try:
        text = open(path, encoding="ascii").read()
    except (OSError, UnicodeDecodeError) as error:
        raise FaceSwapError(f"--trust {path}: not a readable PEM file ({error}).") from None
    if "BEGIN CERTIFICATE" not in text:
        raise FaceSwapError(f"--trust {path}: no certificate in it (expected a PEM file such as root.pem).")
    return text
