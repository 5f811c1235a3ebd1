"""`faceswap sign`: content credentials into a file made with a face swap elsewhere (an
OBS recording: the OBS script runs this when a recording that showed a swap stops)."""

from __future__ import annotations

import argparse
import os

from .. import schema
from ..errors import FaceSwapError
from ..provenance import credentials
from ..provenance.verify import file_kind, read_image_mark, read_video_mark
from .setting_flags import argument_for


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sign", help="add content credentials (C2PA) to a face-swapped file, such as an OBS recording",
        description="Signs FILE in place (MP4, MOV, PNG, JPEG) as made with obs-faceswap's face swap; the "
                    "invisible mark found in it goes into the credentials too. If signing fails the file is "
                    "kept as it was.")
    parser.add_argument("path", metavar="FILE")
    parser.add_argument("--photo", help="the source photo that was worn (its SHA-256 goes into the credentials; "
                                          "its file name too with --credential-names)")
    for key in ("credential_names", "sign_cert", "sign_key"):
        setting = schema.BY_KEY[key]
        parser.add_argument(setting.flag, dest=key, **argument_for(setting))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = args.path
    if not os.path.isfile(path):
        raise FaceSwapError(f"'{path}' does not exist.")
    extension = os.path.splitext(path)[1].lower()
    if extension not in credentials.MIME:
        raise FaceSwapError(f"Content credentials cannot be written into {extension or 'this'} files; record as "
                            "MP4 or MOV (OBS: Settings > Output > Recording Format), or remux to MP4 "
                            "(File > Remux Recordings) and run faceswap sign on that.")
    found = read_image_mark(path) if file_kind(path) == "image" else read_video_mark(path)
    session = bytes.fromhex(found.session) if found.found else None
    identity, made = credentials.chosen_identity({"sign_cert": args.sign_cert, "sign_key": args.sign_key})
    credentials.sign_file(path, identity, photo=args.photo, session_id=session, names=args.credential_names)
    print(f"Signed content credentials into {os.path.basename(path)}"
          f"{f' (mark session {found.session})' if session else ' (no mark found in it)'}"
          f"{'; ' + made if made else ''}.")
    return 0
