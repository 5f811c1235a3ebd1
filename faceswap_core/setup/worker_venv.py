"""The worker's venv: where its Python is, whether it works, and pip run inside it.

`probe` asks the venv's own Python what it can import (in a child process: a broken
venv can only be judged from inside). The installer decides from that probe what to do:
nothing, install, reinstall some packages, or rebuild the venv.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, TextIO

from .runtime_choice import ORT_DISTRIBUTIONS

STAMP_NAME = "obs-faceswap-install.json"
MIN_PIP = (23, 0)
# module the worker imports -> the distribution that provides it (for targeted reinstalls)
WORKER_MODULES = {"numpy": "numpy", "cv2": "opencv-contrib-python", "mediapipe": "mediapipe",
                  "c2pa": "c2pa-python", "faceswap_core.worker": None, "onnxruntime": None, "onnx": "onnx"}
# Lowest layer first: reinstalling numpy can mend every module above it.
REPAIR_ORDER = ("numpy", "cv2", "onnxruntime", "onnx", "mediapipe", "c2pa", "faceswap_core.worker")
# The project's extra that the installer installs with it: the neural engine's packages but
# the ONNX Runtime one, which the installer picks for the graphics card (pyproject.toml).
INSTALLED_EXTRA = "neural-models"
# What each engine imports beyond the worker's own packages (the doctor checks them)
ENGINE_MODULES = {"neural": ("onnxruntime", "onnx")}


def editable_project(project_root: str | os.PathLike) -> str:
    """pip's editable requirement for the project with the extra the installer wants."""
    return f"{project_root}[{INSTALLED_EXTRA}]"
PROBE_SCRIPT = r"""
import importlib, json, sys
from importlib import metadata
report = {"executable": sys.executable, "version": list(sys.version_info[:3]), "broken": {},
          "ort": [], "providers": [], "faceswap_core": None}
for name in MODULES:
    try:
        module = importlib.import_module(name)
    except BaseException as error:
        report["broken"][name] = (type(error).__name__ + ": " + str(error))[:300]
        continue
    if name == "faceswap_core.worker":
        report["faceswap_core"] = module.__file__
    if name == "onnxruntime":
        try:
            report["providers"] = list(module.get_available_providers())
        except BaseException as error:
            report["broken"][name] = (type(error).__name__ + ": " + str(error))[:300]
for dist in ORT:
    try:
        report["ort"].append([dist, metadata.version(dist)])
    except metadata.PackageNotFoundError:
        pass
print("PROBE " + json.dumps(report))
"""


@dataclass(frozen=True)
class Health:
    runs: bool                      # the interpreter starts at all
    version: tuple[int, ...] = ()
    broken: dict = field(default_factory=dict)   # module -> error text
    ort: tuple[tuple[str, str], ...] = ()        # installed onnxruntime distributions (name, version)
    providers: tuple[str, ...] = ()
    faceswap_core: str | None = None             # where the worker's package is imported from
    error: str = ""

    @property
    def working(self) -> bool:
        return self.runs and not self.broken

    def ort_names(self) -> list[str]:
        return [name for name, _ in self.ort]


def venv_python(venv_dir: str | os.PathLike, platform_name: str | None = None) -> Path:
    name = platform_name or sys.platform
    if name.startswith("win"):
        return Path(venv_dir) / "Scripts" / "python.exe"
    return Path(venv_dir) / "bin" / "python"


def probe(python: str | os.PathLike, modules: Sequence[str] = tuple(WORKER_MODULES), timeout: float = 180.0) -> Health:
    """Start the venv's Python and import what the worker needs; never raises."""
    if not Path(python).exists():
        return Health(False, error=f"{python} does not exist")
    script = f"MODULES = {list(modules)!r}\nORT = {list(ORT_DISTRIBUTIONS)!r}\n{PROBE_SCRIPT}"
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    try:
        done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=tempfile.gettempdir())
    except (OSError, subprocess.SubprocessError) as error:
        return Health(False, error=str(error))
    line = next((l for l in done.stdout.splitlines() if l.startswith("PROBE ")), None)
    if line is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return Health(False, error=tail[0])
    report = json.loads(line[len("PROBE "):])
    return Health(True, tuple(report["version"]), report["broken"], tuple(tuple(x) for x in report["ort"]),
                  tuple(report["providers"]), report["faceswap_core"])


def create(base_command: Sequence[str], venv_dir: str | os.PathLike, clear: bool, out: TextIO) -> None:
    """python -m venv (with --clear to rebuild a broken one in place)."""
    out.write(f"Creating the worker's Python environment in {venv_dir} ...\n")
    out.flush()
    if clear and Path(venv_dir).exists():
        try:
            shutil.rmtree(venv_dir)   # --clear keeps a broken python link on some platforms
        except OSError as error:
            raise InstallError(f"Could not remove the broken {venv_dir} ({error.strerror}); close OBS (it may be "
                               "running the worker) and run the installer again.") from None
    done = subprocess.run([*base_command, "-m", "venv", str(venv_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"Could not create {venv_dir} ({_last_line(done)}); check that the folder is "
                           "writable and that your Python has venv support, then run the installer again.")


class InstallError(Exception):
    """A step failed; str(error) is one sentence saying what to do next."""


def pip(python: str | os.PathLike, args: Sequence[str], out: TextIO, offline_dir: str | None = None,
        quiet: bool = False) -> int:
    """Run pip in the venv with its output streamed to the user (pip shows download progress)."""
    command = [str(python), "-m", "pip", *args]
    if offline_dir and args and args[0] in ("install", "download", "wheel"):
        command += ["--no-index", "--find-links", str(offline_dir)]
    if quiet:
        command.append("-q")
    out.write("  $ " + " ".join(command[2:]) + "\n")
    out.flush()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    if out is sys.stdout:   # the user's terminal: pip draws its own live download bars
        return subprocess.call(command, env=env)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               bufsize=1)
    assert process.stdout is not None
    for text in process.stdout:
        out.write("    " + text)
        out.flush()
    return process.wait()


def pip_version(python: str | os.PathLike) -> tuple[int, ...]:
    """The venv's pip version, () when pip is missing."""
    try:
        done = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ()
    parts = done.stdout.split()
    if done.returncode != 0 or len(parts) < 2:
        return ()
    return tuple(int(p) for p in parts[1].split(".") if p.isdigit())


def ensure_recent_pip(python: str | os.PathLike, out: TextIO, offline_dir: str | None = None) -> None:
    """Editable installs of a pyproject-only project need pip 21.3+; Python 3.10.0 bundles 21.2."""
    if pip_version(python) >= MIN_PIP:
        return
    out.write(f"Updating pip in the worker's environment (needs {'.'.join(map(str, MIN_PIP))} or newer) ...\n")
    if pip(python, ["install", "--upgrade", f"pip>={'.'.join(map(str, MIN_PIP))}"], out, offline_dir=offline_dir) != 0:
        raise InstallError("Could not update pip in the worker's environment (see above); check the internet "
                           "connection (or the --offline folder) and run the installer again.")


def project_fingerprint(project_root: str | os.PathLike) -> str:
    """Changes when the project's dependencies change (pyproject.toml), so an upgrade reinstalls."""
    return hashlib.sha256(Path(project_root, "pyproject.toml").read_bytes()).hexdigest()[:16]


def read_stamp(venv_dir: str | os.PathLike) -> dict:
    try:
        return json.loads(Path(venv_dir, STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_stamp(venv_dir: str | os.PathLike, stamp: dict) -> None:
    Path(venv_dir, STAMP_NAME).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"
