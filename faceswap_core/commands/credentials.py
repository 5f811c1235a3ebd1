"""`faceswap credentials`: this install's signing certificate for content credentials."""

from __future__ import annotations

import argparse

from ..provenance import credentials


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "credentials", help="make or show this install's content-credentials certificate",
        description="Makes this install's signing certificate chain (once; offline, ES256, 100 years) and says "
                    "where it is. Give others its root.pem: `faceswap verify --trust root.pem` then reads your "
                    "files as signed by a trusted signer.")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    folder = credentials.default_folder()
    _, made = credentials.ensure_identity(folder)
    print(f"{'Made' if made else 'Found'} this install's signing certificate in {folder}")
    print(f"  chain:  {folder / credentials.SIGNER_FILE}")
    print(f"  key:    {folder / credentials.KEY_FILE} (keep it private)")
    print(f"  root:   {folder / credentials.ROOT_FILE} (share it: faceswap verify --trust root.pem FILE)")
    return 0
