"""`faceswap doctor`: one screen saying what works, what does not, and the fix for each."""

from __future__ import annotations

import argparse

from .. import doctor, schema
from .setting_flags import argument_for

SERVER_KEYS = {"server": "address", "server_key": "key", "server_tls": "tls", "server_certificate": "certificate"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check the install: worker Python, ONNX Runtime, GPU, models, OBS",
        description="Checks everything the OBS filter needs and prints the exact fix for anything broken.")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="the OBS settings file to check (default: the installer's)")
    parser.add_argument("--python", default=None, help="check this worker Python instead of the configured one")
    parser.add_argument("--dir", dest="model_dir", default=None, help="models folder (default: the usual one)")
    parser.add_argument("--quick", action="store_true", help="check model sizes only, not their SHA-256")
    server = parser.add_argument_group("a Triton server (runtime 'Triton server'): checked too when given")
    for key in SERVER_KEYS:
        setting = schema.BY_KEY[key]
        server.add_argument(setting.flag, dest=key, **argument_for(setting))


def run(args: argparse.Namespace) -> int:
    server = {name: getattr(args, key, "") for key, name in SERVER_KEYS.items()} \
        if getattr(args, "server", "") else None
    checks = doctor.gather(config=args.config, python=args.python, model_dir=args.model_dir,
                           full_models=not args.quick, server=server)
    print(doctor.render(checks))
    return 1 if any(check.ok is False for check in checks) else 0
