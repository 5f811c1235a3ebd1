"""The install, as a sequence of small steps, each safe to run again.

    machine -> ONNX Runtime choice -> base Python -> venv (create or repair)
    -> packages (install, switch runtime, repair) -> config for OBS -> models (optional)

Idempotent by construction: each step first looks at what is there. A venv that works
and was installed from the same pyproject.toml with the same runtime is left alone
(a second run is a no-op, with no network); a venv whose Python no longer starts is
rebuilt; packages that fail to import are reinstalled. A working setup is never deleted:
when an upgrade fails, the previous install keeps running.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from faceswap_core import install_config, schema   # standard library only
from faceswap_core.command_text import command_text
from faceswap_core.setup import ascii_folder, machine as machine_probe, runtime_choice, worker_venv
from faceswap_core.setup.worker_venv import Health, InstallError

from . import base_python

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTALLER_VERSION = 1


@dataclass(frozen=True)
class Options:
    venv: Path
    config: Path
    runtime: str = "auto"            # auto or a runtime_choice.FLAVOURS entry
    python: str | None = None        # base interpreter for the venv
    offline: Path | None = None      # folder of wheels (and models/)
    models: str = "ask"              # ask, yes, no
    upgrade: bool = False
    project_root: Path = PROJECT_ROOT


def venv_folder(requested: Path | None, default: Path, project_root: Path, out: TextIO,
                platform_name: str = sys.platform, environ: dict | None = None) -> Path:
    """Where the worker's environment goes: `requested` (--venv), else `default`; on Windows
    a folder mediapipe can load from (ascii_folder)."""
    venv = requested or default
    if not ascii_folder.breaks_mediapipe(venv, platform_name):
        return venv
    if requested is not None:
        raise InstallError(f"{ascii_folder.problem_words(venv)}: choose a --venv folder whose path is plain ASCII, "
                           "for example C:\\obs-faceswap-venv.")
    elsewhere = ascii_folder.ascii_venv(project_root, environ)
    if elsewhere is None:
        raise InstallError(f"{ascii_folder.problem_words(venv)}, and no plain-ASCII folder was found for it: move "
                           "obs-faceswap to a folder such as C:\\obs-faceswap and run the installer there.")
    out.write(f"{ascii_folder.problem_words(venv)}: the worker's environment goes to {elsewhere} instead "
              "(the OBS filter is told where).\n")
    return Path(elsewhere)


def wheel_folders(offline: Path) -> list[Path]:
    """An offline folder holds the wheels directly or in wheels/."""
    return [folder for folder in (offline / "wheels", offline) if folder.is_dir()]


def run(options: Options, out: TextIO, ask: Callable[[str], str] | None) -> int:
    """The whole install; returns the exit code. InstallError messages end the run."""
    started = time.monotonic()
    found = machine_probe.probe()
    choice = runtime_choice.choose(found, options.runtime)
    out.write(f"This computer: {found.describe()}\n")
    out.write(f"ONNX Runtime: {choice.package} ({choice.reason})\n")
    offline = _offline_links(options.offline)
    python = setup_venv(options, choice, offline, out)
    write_obs_config(options, python, choice, worker_venv.probe(python).providers, out)
    make_credentials(python, out)
    models_ok = install_models(options, python, ask, out)
    out.write("\n")
    out.flush()
    subprocess.call([str(python), "-m", "faceswap_core.doctor", "--quick", "--config", str(options.config)])
    out.write(f"\nDone in {time.monotonic() - started:.0f} s. In OBS: Tools > Scripts > + > "
              f"{options.project_root / 'obs_faceswap.py'}\n")
    out.write(f"Check everything again with: {command_text(python, '-m', 'faceswap_core.doctor')}\n")
    return 0 if models_ok else 1


def _offline_links(offline: Path | None) -> str | None:
    if offline is None:
        return None
    with_wheels = [folder for folder in wheel_folders(offline) if any(folder.glob("*.whl"))]
    if not with_wheels:
        raise InstallError(f"{offline} has no wheel files; prepare it on a machine with internet using "
                           f"'{command_text('install.py', '--prepare-offline', offline)}' and copy it over.")
    return str(with_wheels[0])


def setup_venv(options: Options, choice: runtime_choice.RuntimeChoice, offline: str | None, out: TextIO) -> Path:
    """The venv, working and with the chosen runtime; returns its Python."""
    python = worker_venv.venv_python(options.venv)
    health = worker_venv.probe(python)
    wanted = {"installer": INSTALLER_VERSION, "project": worker_venv.project_fingerprint(options.project_root),
              "project_root": str(options.project_root), "runtime": choice.requirement}
    if health.runs and health.working and _same_stamp(worker_venv.read_stamp(options.venv), wanted) \
            and health.ort_names() == [choice.package] and not options.upgrade:
        out.write(f"The worker's environment {options.venv} is installed and working: nothing to do.\n")
        return python
    if not health.runs or not base_python.supported(health.version):
        why = health.error or f"its Python {'.'.join(map(str, health.version))} is not 3.10-3.12"
        base = _base_python(options, out)
        if Path(options.venv).exists():
            out.write(f"Repairing {options.venv}: {why}.\n")
        worker_venv.create(base.command, options.venv, clear=Path(options.venv).exists(), out=out)
        health = worker_venv.probe(python)
    was_working = health.working
    try:
        install_packages(python, options, choice, health, offline, out)
    except InstallError as error:
        if was_working:
            raise InstallError(f"{error} Your existing install in {options.venv} was left working.") from None
        raise
    health = worker_venv.probe(python)
    if health.broken:
        health = repair_packages(python, options, choice, health, offline, out)
    if health.broken:
        module, why = next(iter(health.broken.items()))
        raise InstallError(f"The worker still cannot import {module} ({why}); delete {options.venv} and run "
                           "the installer again.")
    worker_venv.write_stamp(options.venv, wanted)
    out.write(f"Worker environment ready: Python {'.'.join(map(str, health.version))}, "
              f"{', '.join(f'{n} {v}' for n, v in health.ort)}, providers: {', '.join(health.providers)}.\n")
    return python


def _same_stamp(stamp: dict, wanted: dict) -> bool:
    return all(stamp.get(key) == value for key, value in wanted.items())


def _base_python(options: Options, out: TextIO) -> base_python.BasePython:
    base = base_python.find(options.python)
    if base is None:
        if options.python:
            raise InstallError(f"{options.python} is not a working Python 3.10-3.12 with venv support; "
                               "name another one with --python.")
        raise InstallError("No Python 3.10-3.12 with venv support was found. " + base_python.how_to_get_one())
    out.write(f"Building the worker's environment with {base.label}.\n")
    return base


def install_packages(python: Path, options: Options, choice: runtime_choice.RuntimeChoice, health: Health,
                     offline: str | None, out: TextIO) -> None:
    """pip install the project (editable, so OBS and the worker run the same code) and the runtime."""
    others = [name for name in health.ort_names() if name != choice.package]
    if others:
        # They share the onnxruntime folder: remove every one (the chosen one too, its files
        # may be half overwritten), then install the chosen one fresh.
        out.write(f"Removing {', '.join(others)}: only one ONNX Runtime package may be installed.\n")
        if worker_venv.pip(python, ["uninstall", "-y", *health.ort_names()], out) != 0:
            raise InstallError(f"Could not remove {', '.join(others)}; close programs using {options.venv} "
                               "and run the installer again.")
    worker_venv.ensure_recent_pip(python, out, offline)
    out.write("Installing the worker's packages (about 300 MB the first time) ...\n")
    args = ["install", "-e", worker_venv.editable_project(options.project_root), choice.requirement]
    if options.upgrade:
        args.insert(1, "--upgrade")
    if worker_venv.pip(python, args, out, offline_dir=offline) != 0:
        if others:   # put the previous runtime back, so a failed switch breaks nothing
            worker_venv.pip(python, ["install", *others], out, offline_dir=offline)
        where = f"the folder {options.offline} lacks a package this machine needs (prepare it again)" \
            if offline else "pip could not download or install a package (see its message above)"
        raise InstallError(f"Installing packages failed: {where}; fix that and run the installer again.")


def repair_packages(python: Path, options: Options, choice: runtime_choice.RuntimeChoice, health: Health,
                    offline: str | None, out: TextIO) -> Health:
    """Reinstall what fails to import, lowest layer first (a broken numpy breaks OpenCV, mediapipe
    and onnxruntime too, so fixing numpy alone may fix all); rebuild the venv if that is not enough."""
    out.write(f"Repairing packages that fail to import: {', '.join(health.broken)}.\n")
    for module in worker_venv.REPAIR_ORDER:
        if module not in health.broken:
            continue
        dist = worker_venv.WORKER_MODULES.get(module)
        target = ["-e", worker_venv.editable_project(options.project_root)] if module == "faceswap_core.worker" \
            else [dist or choice.requirement]
        worker_venv.pip(python, ["install", "--force-reinstall", "--no-deps", *target], out, offline_dir=offline)
        health = worker_venv.probe(python)
        if not health.broken:
            return health
    out.write("Packages still fail to import; rebuilding the environment from scratch.\n")
    base = _base_python(options, out)
    worker_venv.create(base.command, options.venv, clear=True, out=out)
    install_packages(python, options, choice, worker_venv.probe(python), offline, out)
    return worker_venv.probe(python)


def write_obs_config(options: Options, python: Path, choice: runtime_choice.RuntimeChoice,
                     providers: tuple[str, ...], out: TextIO) -> None:
    """providers: ONNX Runtime's names, as the worker's venv offers them (the filter lists those)."""
    short = [schema.provider_key(name) for name in providers]
    values = {"worker_python": str(Path(python).absolute()), "venv": str(Path(options.venv).absolute()),
              "onnxruntime": choice.package, "providers": short, "runtime": choice.flavour, "runtime_requested": options.runtime,
              "project_root": str(options.project_root)}
    current = install_config.read_config(str(options.config))
    if all(current.get(key) == value for key, value in values.items()):
        out.write(f"OBS settings file {options.config} is up to date.\n")
        return
    values["installed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        install_config.write_config(values, str(options.config))
    except install_config.ConfigLocked as error:
        raise InstallError(str(error.strerror)) from None
    out.write(f"Wrote {options.config}: the OBS filter will use {python}.\n")


def make_credentials(python: Path, out: TextIO) -> None:
    """The per-install certificate that signs content credentials (made once; offline)."""
    out.flush()
    if subprocess.call([str(python), "-m", "faceswap_core.cli", "credentials"]) != 0:
        out.write("The signing certificate was not made (see above); files will be signed when it is: "
                  "run `faceswap credentials`.\n")


def install_models(options: Options, python: Path, ask: Callable[[str], str] | None, out: TextIO) -> bool:
    """The neural engine's models, through the project's own model installer (asks first)."""
    if options.models == "no":
        return True
    from faceswap_core import model_catalog, model_installer

    wanted = model_catalog.resolve_names(["neural"])
    if all(model_installer.check(model, full=False).good for model in wanted) and options.models != "yes":
        out.write("Neural engine models: present (check them with: faceswap models verify).\n")
        return True
    size = sum(model.bytes for model in wanted) / 1e6
    out.write(f"\nOptional: the neural engine's models ({size:.0f} MB). They are licensed for "
              f"{model_catalog.NON_COMMERCIAL}: {model_catalog.INSIGHTFACE_TERMS}\n"
              "The default landmark engine needs none of them.\n")
    if options.models == "ask":
        if ask is None:
            out.write("Skipped (not asked: no terminal). Install them later with: "
                      f"python {_installer(options)} --models yes\n")
            return True
        if ask("Download them and accept that licence? [y/N] ").strip().lower() not in ("y", "yes"):
            out.write(f"Skipped. Install them later with: python {_installer(options)} --models yes\n")
            return True
    command = ["-m", "faceswap_core.cli", "models", "install", "--yes"]
    if options.offline is not None:
        command += ["--from", str(options.offline / "models" if (options.offline / "models").is_dir() else options.offline)]
    out.write("  $ python " + " ".join(command) + "\n")
    out.flush()
    done = subprocess.run([str(python), *command])
    if done.returncode != 0:
        out.write("The models were not installed (see above); the landmark engine works without them. "
                  f"Fix that and run: python {_installer(options)} --models yes\n")
        return False
    return True


def _installer(options: Options) -> Path:
    return options.project_root / "installer" / "install.py"
