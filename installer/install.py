#!/usr/bin/env python3
"""Install obs-faceswap for OBS in one command: python installer/install.py

Creates the worker's Python environment (.venv in the obs-faceswap folder), picks the
ONNX Runtime package for this computer (NVIDIA -> onnxruntime-gpu with CUDA and cuDNN
from PyPI; Windows with AMD/Intel -> DirectML; macOS -> CoreML; else CPU), installs
obs-faceswap into it, optionally the neural engine's models (asks first), and writes
obs-faceswap.json so the OBS filter finds the worker by itself. Run it again at any time:
it repairs what is broken, upgrades what changed, and leaves a working setup alone.

Runs with any Python 3.10 or newer and only its standard library.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 10):
    sys.exit("obs-faceswap's installer needs Python 3.10 or newer; install Python 3.12 from python.org "
             "and run it with that.")

import argparse  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from faceswap_core.setup import machine, runtime_choice, worker_venv  # noqa: E402
from faceswap_core.setup.worker_venv import InstallError  # noqa: E402
from installer import base_python, steps  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="install.py", description="Install (or repair, or upgrade) obs-faceswap's worker for OBS.")
    parser.add_argument("--venv", type=Path, default=None,
                        help="where the worker's Python environment goes (default: .venv in this folder; on "
                             "Windows, a plain-ASCII folder when this one's path is not)")
    parser.add_argument("--config", type=Path, default=None,
                        help="the settings file the OBS filter reads (default: obs-faceswap.json next to "
                             "obs_faceswap.py, or $OBS_FACESWAP_CONFIG)")
    parser.add_argument("--runtime", choices=("auto", *runtime_choice.FLAVOURS), default="auto",
                        help="ONNX Runtime flavour (default auto: chosen from this computer's GPU)")
    parser.add_argument("--python", default=None, help="the Python 3.10-3.12 to build the environment from")
    parser.add_argument("--offline", type=Path, default=None, metavar="DIR",
                        help="install from a folder of wheels (and models/) made with --prepare-offline; "
                             "no internet needed")
    parser.add_argument("--models", choices=("ask", "yes", "no"), default="ask",
                        help="the neural engine's models (~750 MB, non-commercial licence): ask (default), yes, no")
    parser.add_argument("--upgrade", action="store_true", help="upgrade packages to their newest allowed versions")
    parser.add_argument("--prepare-offline", type=Path, default=None, metavar="DIR",
                        help="download everything into DIR (on a machine with internet) for a later --offline")
    parser.add_argument("--show-choice", action="store_true",
                        help="only print what this computer is and which ONNX Runtime it would get")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from faceswap_core import install_config

    config = args.config or Path(install_config.config_path(str(ROOT)))
    ask = input if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        if args.show_choice:
            found = machine.probe()
            choice = runtime_choice.choose(found, args.runtime)
            print(f"{found.describe()}\n{choice.requirement}\n{choice.reason}")
            return 0
        if args.prepare_offline is not None:
            return prepare_offline(args.prepare_offline, args, ask)
        venv = steps.venv_folder(args.venv, ROOT / ".venv", ROOT, sys.stdout)
        options = steps.Options(venv=venv.absolute(), config=config.absolute(), runtime=args.runtime,
                                python=args.python, offline=args.offline.absolute() if args.offline else None,
                                models=args.models, upgrade=args.upgrade)
        return steps.run(options, sys.stdout, ask)
    except InstallError as error:
        sys.stdout.flush()
        print(f"install: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("install: stopped; run it again to finish (it picks up where it was).", file=sys.stderr)
        return 130


def prepare_offline(folder: Path, args: argparse.Namespace, ask) -> int:
    """Download the wheels this machine's install needs (and the models, if wanted) into folder.

    pip runs in a throw-away venv of the worker's Python version (so the wheels fit it, and a
    system Python without pip works too)."""
    base = base_python.find(args.python)
    if base is None:
        raise InstallError("No Python 3.10-3.12 was found. " + base_python.how_to_get_one())
    choice = runtime_choice.choose(machine.probe(), args.runtime)
    wheels = folder / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="obs-faceswap-prepare-") as scratch:
        worker_venv.create(base.command, Path(scratch) / "venv", clear=False, out=sys.stdout)
        python = worker_venv.venv_python(Path(scratch) / "venv")
        worker_venv.ensure_recent_pip(python, sys.stdout)
        print(f"Downloading wheels for {base.label} and {choice.requirement} into {wheels} ...", flush=True)
        pip_floor = ".".join(map(str, worker_venv.MIN_PIP))
        if worker_venv.pip(python, ["download", "--dest", str(wheels), worker_venv.editable_project(ROOT),
                                    choice.requirement, "setuptools>=64", "wheel", f"pip>={pip_floor}"],
                           sys.stdout) != 0:
            raise InstallError("Downloading the wheels failed (see pip's message above); check the internet "
                               "connection and run it again.")
    if args.models == "yes" or (args.models == "ask" and ask is not None
                                and ask("Also download the neural models (~750 MB, non-commercial licence)? [y/N] ")
                                .strip().lower() in ("y", "yes")):
        from faceswap_core import model_catalog, model_installer
        from faceswap_core.errors import FaceSwapError

        try:
            model_installer.install(model_catalog.resolve_names(["neural"]), folder / "models", assume_yes=True)
        except FaceSwapError as error:
            raise InstallError(str(error)) from None
    from faceswap_core.command_text import command_text

    print(f"Ready: copy {folder} to the offline machine and run: "
          f"{command_text('python', 'installer/install.py', '--offline', folder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
