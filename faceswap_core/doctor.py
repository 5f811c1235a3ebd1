"""`faceswap doctor`'s checks: each one small, each returning Check(ok, what, fix).

ok is True (works), False (broken: `fix` says exactly what to do) or None (optional and
not set up, e.g. the neural models: `fix` says how to add it). The checks take what they
judge as arguments (a worker probe, a machine, a found OBS), so each is testable alone;
`gather` collects the facts from this computer and runs them all.

Standard library only (the probes it shares with the installer are in faceswap_core.setup): the
doctor must work when the worker's packages are exactly what is broken.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from . import install_config
from .command_text import command_text
from .link import launch
from .link import system as systems
from .setup import ascii_folder, machine as machine_probe, runtime_choice, worker_venv

PROJECT_ROOT = Path(launch.PROJECT_ROOT)
INSTALL_COMMAND = command_text("python", PROJECT_ROOT / "installer" / "install.py")
# OBS version -> the newest Python its scripting loads on Windows and macOS
# (deps/obs-scripting/obs-scripting-python-import.c of each tag; Linux uses the system's).
OBS_PYTHON_LIMITS = (((30, 1), (3, 12)), ((29, 1), (3, 11)), ((28, 0), (3, 10)))
# macOS OBS up to this version loads only Python.framework/Versions/Current, whatever is chosen
MAC_CURRENT_ONLY_UNTIL = (31, 0, 1)
MAC_FRAMEWORK = "/Library/Frameworks/Python.framework"
OBS_SCRIPT_MIN_PYTHON = (3, 8)   # the OBS side is plain standard library
LINUX_OBS_SCRIPTING = ("/usr/lib/x86_64-linux-gnu/obs-scripting", "/usr/lib/aarch64-linux-gnu/obs-scripting",
                       "/usr/lib64/obs-scripting", "/usr/lib/obs-scripting", "/usr/local/lib/obs-scripting")


class Check(NamedTuple):
    ok: bool | None
    what: str
    fix: str = ""


@dataclass(frozen=True)
class ObsInstall:
    path: str
    version: tuple[int, ...] | None     # None: found but its version is unknown
    kind: str = "native"                # native, flatpak




def version_text(version) -> str:
    return ".".join(str(part) for part in version)


# ---- the worker ---------------------------------------------------------------------------

def fallback_worker_python(project_root: Path = PROJECT_ROOT) -> str | None:
    """The .venv next to obs_faceswap.py, which the filter uses when there is no config."""
    for system in (systems.WINDOWS, systems.LINUX):   # Scripts\python.exe, then bin/python
        candidate = Path(launch.default_worker_python(system, str(project_root / ".venv")))
        if candidate.is_file():
            return str(candidate)
    return None


def check_config(path: str, python: str | None, fallback: str | None = None) -> Check:
    if not os.path.isfile(path):
        if fallback:
            return Check(None, f"No OBS settings file ({path}); the filter falls back to {fallback}",
                         f"run {INSTALL_COMMAND} to record the worker for OBS")
        return Check(False, f"No OBS settings file ({path}): the filter will not find the worker by itself",
                     f"run {INSTALL_COMMAND} in {PROJECT_ROOT}")
    if python is None:
        named = install_config.read_config(path).get("worker_python") or "no worker Python"
        return Check(False, f"{path} names {named}, which does not exist",
                     f"run {INSTALL_COMMAND} again to rebuild the worker's environment")
    return Check(True, f"OBS settings file {path} points at the worker {python}")


def check_worker_python(health, python: str) -> Check:
    if not health.runs:
        return Check(False, f"The worker Python {python} does not start ({health.error})",
                     f"run {INSTALL_COMMAND} again: it rebuilds the environment")
    if tuple(health.version[:2]) not in ((3, 10), (3, 11), (3, 12)):
        return Check(False, f"The worker Python {python} is {version_text(health.version)}; the worker needs 3.10-3.12",
                     f"run {INSTALL_COMMAND} again (it builds the environment from a Python 3.10-3.12)")
    return Check(True, f"Worker Python {version_text(health.version)}: {python}")


def check_folder_for_mediapipe(python: str, platform_name: str | None = None) -> Check | None:
    """Windows: mediapipe cannot load its models from a non-ASCII folder (None elsewhere)."""
    if not ascii_folder.breaks_mediapipe(python, platform_name or sys.platform):
        return None
    return Check(False, f"{ascii_folder.problem_words(os.path.dirname(python))}.",
                 f"run {INSTALL_COMMAND} again: it puts the worker's environment in a plain-ASCII folder")


def check_worker_packages(health, python: str) -> Check:
    if not health.runs:
        return Check(False, "The worker's packages could not be checked: its Python does not start",
                     f"run {INSTALL_COMMAND} again")
    engines_own = {module for modules in worker_venv.ENGINE_MODULES.values() for module in modules}
    broken = {name: why for name, why in health.broken.items() if name not in engines_own}
    if broken:
        listed = "; ".join(f"{name} ({why})" for name, why in broken.items())
        return Check(False, f"The worker cannot import: {listed}", f"run {INSTALL_COMMAND} again: it reinstalls them")
    return Check(True, f"Worker packages import (faceswap_core from {Path(health.faceswap_core or '?').parent})")


def check_onnxruntime(health, python: str) -> Check:
    if not health.runs:
        return Check(False, "ONNX Runtime could not be checked: the worker Python does not start",
                     f"run {INSTALL_COMMAND} again")
    installed = [f"{name} {version}" for name, version in health.ort]
    if len(installed) > 1:
        extra = [name for name, _ in health.ort]
        return Check(False, f"Several ONNX Runtime packages are installed ({', '.join(installed)}); they shadow each other",
                     f"run: {command_text(python, '-m', 'pip', 'uninstall', '-y', *extra)}  then "
                     f"{INSTALL_COMMAND} again")
    if not installed:
        return Check(None, "ONNX Runtime is not installed: the neural engine is unavailable (landmark works)",
                     f"run {INSTALL_COMMAND} to add the right package for this computer")
    if "onnxruntime" in health.broken:
        return Check(False, f"{installed[0]} is installed but does not load ({health.broken['onnxruntime']})",
                     f"run {INSTALL_COMMAND} again: it reinstalls it")
    providers = ", ".join(p.replace("ExecutionProvider", "") for p in health.providers)
    return Check(True, f"{installed[0]}, providers: {providers}")


def check_engine_packages(health, engine: str) -> Check:
    """Does `engine` find every package it imports? The installer installs them all: a
    missing one means an install from before they were needed, or a broken one."""
    if not health.runs:
        return Check(False, f"The {engine} engine's packages could not be checked: the worker Python does not start",
                     f"run {INSTALL_COMMAND} again")
    # ONNX Runtime has a check of its own (which package, which providers)
    missing = {name: health.broken[name] for name in worker_venv.ENGINE_MODULES[engine]
               if name in health.broken and name != "onnxruntime"}
    if missing:
        listed = "; ".join(f"{name} ({why})" for name, why in missing.items())
        return Check(False, f"The {engine} engine cannot start: {listed}",
                     f"run {INSTALL_COMMAND} again: it installs what the {engine} engine needs")
    return Check(True, f"The {engine} engine's packages import ({', '.join(worker_venv.ENGINE_MODULES[engine])})")


def check_gpu(machine, health, choose, requested: str = "auto") -> Check:
    """Does the installed ONNX Runtime use the GPU this computer has (or the one asked for
    with the installer's --runtime, which the config records)?"""
    expected = choose(machine, requested or "auto")
    seen = machine.describe()
    if not health.runs or not health.ort:
        return Check(None if expected.flavour == "cpu" else False,
                     f"{seen}; no ONNX Runtime to use it",
                     f"run {INSTALL_COMMAND}: it installs {expected.package} ({expected.reason})")
    installed = [name for name, _ in health.ort]
    if expected.package not in installed:
        return Check(False, f"{seen}, but {', '.join(installed)} is installed; this computer should use "
                            f"{expected.package} ({expected.reason})",
                     f"run {INSTALL_COMMAND} again: it swaps the package")
    wanted = expected.providers[0]
    if wanted not in health.providers:
        return Check(False, f"{seen}; {expected.package} is installed but does not offer {wanted}",
                     f"run {INSTALL_COMMAND} --upgrade (and update the graphics driver)")
    if expected.flavour == "cpu":
        return Check(True, f"{seen}: the CPU is used (landmark engine: real time; neural engine: slow)"
                           + (f"; {expected.reason}" if requested not in (None, "auto") else ""))
    return Check(True, f"{seen}: {wanted.replace('ExecutionProvider', '')} is available")


# ---- models -------------------------------------------------------------------------------

def check_models(model_dir: str | None = None, full: bool = True) -> Check:
    from . import model_catalog, model_installer

    wanted = model_catalog.resolve_names(["neural"])
    where = model_dir or model_catalog.default_model_dir()
    states = [model_installer.check(model, where, full=full) for model in wanted]
    if all(state.state == "missing" for state in states):
        return Check(None, f"Neural engine models: not installed in {where} (optional; landmark needs none)",
                     f"run {INSTALL_COMMAND} --models yes")
    bad = [state for state in states if not state.good]
    if bad:
        listed = ", ".join(f"{s.model.filename} {s.state}" for s in bad)
        return Check(False, f"Neural engine models in {where}: {listed}",
                     f"run: {model_catalog.install_command([s.model.name for s in bad], model_dir, force=True)}")
    how = "SHA-256 verified" if full else "sizes right (hashes not checked)"
    return Check(True, f"Neural engine models in {where}: {len(states)} files, {how}")


def check_credentials(folder: Path | None = None) -> Check:
    """The certificate that signs content credentials (made by the installer)."""
    from .provenance import credentials

    folder = Path(folder or credentials.default_folder())
    if (folder / credentials.SIGNER_FILE).exists() and (folder / credentials.KEY_FILE).exists():
        return Check(True, f"Content credentials: this install's signing certificate is in {folder}")
    return Check(None, "Content credentials: no signing certificate yet (files are signed once there is one)",
                 "run: faceswap credentials")


# ---- OBS ----------------------------------------------------------------------------------

def check_triton_server(address: str, key: str = "", tls: bool = False, certificate: str = "",
                        calls: int = 5) -> Check:
    """The Triton server the filter would use: it answers, takes the key, serves both models
    as this version sends them, and how long a one-face swap takes there and back."""
    import statistics
    import time

    from .errors import FaceSwapError
    from .remote import served
    from .remote.served_graphs import sample_inputs
    from .remote.triton_link import ServerAway, TritonLink

    link = None
    try:
        link = TritonLink(address, tls=tls, certificate=certificate, key=key, timeout_ms=2000)
        batches = {model.name: link.learn(model) for model in served.SERVED}
        feeds = sample_inputs(served.SWAPPER, 1)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            link.infer(served.SWAPPER, feeds)
            times.append(time.perf_counter() - started)
    except ServerAway as away:
        return Check(False, str(away), "start it on the GPU machine (sh start-server.sh from faceswap triton-repo), "
                                       "check the address and that TCP port is open to this PC; with TLS, the "
                                       "server.crt it made")
    except FaceSwapError as error:
        return Check(False, str(error))
    finally:
        if link is not None:
            link.close()
    served_as = ", ".join(f"{name} ({f'batches of {batch}' if batch else 'one face per request'})"
                          for name, batch in batches.items())
    return Check(True, f"Triton server {link.address}{' (TLS)' if link.tls else ''}: {served_as}; a one-face swap "
                       f"there and back in {statistics.median(times) * 1e3:.1f} ms")


def parse_obs_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def find_obs(platform_name: str | None = None, which=shutil.which, exists=os.path.exists,
             run_version=None, windows_version=None, mac_version=None) -> ObsInstall | None:
    """OBS Studio on this computer: PATH, Debian's /usr/bin/obs, Flatpak, the usual Windows and macOS places."""
    name = platform_name or sys.platform
    if name.startswith("win"):
        for base in (os.environ.get("ProgramFiles", r"C:\Program Files"), os.environ.get("ProgramFiles(x86)", "")):
            path = os.path.join(base, "obs-studio", "bin", "64bit", "obs64.exe")
            if base and exists(path):
                return ObsInstall(path, parse_obs_version((windows_version or _windows_obs_version)()))
        return None
    if name == "darwin":
        for app in ("/Applications/OBS.app", os.path.expanduser("~/Applications/OBS.app")):
            if exists(app):
                return ObsInstall(app, parse_obs_version((mac_version or _mac_obs_version)(app)))
        return None
    path = which("obs") or ("/usr/bin/obs" if exists("/usr/bin/obs") else None)
    if path:
        return ObsInstall(path, parse_obs_version((run_version or _obs_version_output)(path)))
    for flatpak in (f"/var/lib/flatpak/app/{systems.FLATPAK_APP_ID}",
                    os.path.expanduser(f"~/.local/share/flatpak/app/{systems.FLATPAK_APP_ID}")):
        if exists(flatpak):
            return ObsInstall(flatpak, None, "flatpak")
    return None


def _obs_version_output(path: str) -> str:
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _windows_obs_version() -> str:
    try:
        import winreg
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                             r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\OBS Studio")
        return str(winreg.QueryValueEx(key, "DisplayVersion")[0])
    except (ImportError, OSError):
        return ""


def _mac_obs_version(app: str) -> str:
    try:
        import plistlib
        with open(os.path.join(app, "Contents", "Info.plist"), "rb") as handle:
            return str(plistlib.load(handle).get("CFBundleShortVersionString", ""))
    except (OSError, ValueError):
        return ""


def check_obs(obs: ObsInstall | None, platform_name: str | None = None) -> Check:
    if obs is None:
        where = {"win": "https://obsproject.com/download", "darwin": "https://obsproject.com/download"}
        name = platform_name or sys.platform
        get = where.get("win" if name.startswith("win") else name, "your distribution's obs-studio package "
                        "(Debian/Ubuntu: sudo apt install obs-studio)")
        return Check(False, "OBS Studio was not found", f"install OBS Studio 28 or newer: {get}")
    if obs.version is None:
        return Check(True, f"OBS Studio found ({obs.kind}): {obs.path}, version unknown")
    if obs.version[:2] < (28, 0):
        return Check(False, f"OBS Studio {version_text(obs.version)} at {obs.path} is too old for the filter",
                     "update OBS Studio to 28 or newer: https://obsproject.com/download")
    return Check(True, f"OBS Studio {version_text(obs.version)}: {obs.path}")


def obs_python_limit(version: tuple[int, ...]) -> tuple[int, int] | None:
    """The newest Python this OBS version loads for scripts (None: too old for Python 3 scripts we support)."""
    for since, python in OBS_PYTHON_LIMITS:
        if tuple(version[:2]) >= since:
            return python
    return None


def linux_obs_python(folders=LINUX_OBS_SCRIPTING) -> tuple[str, str] | None:
    """(python version, the obspython module) that Linux OBS was built against, from its libpython link."""
    for folder in folders:
        module = Path(folder) / "_obspython.so"
        if module.is_file():
            match = re.search(rb"libpython(3\.\d+)", module.read_bytes())
            if match:
                return match.group(1).decode(), str(module)
    return None


def python_installs(platform_name: str | None = None) -> list[tuple[int, int]]:
    """Python versions installed where OBS looks for them (Windows/macOS)."""
    name = platform_name or sys.platform
    found = set()
    if name.startswith("win"):
        bases = [os.path.join(os.environ.get("LOCALAPPDATA", ""), "Programs", "Python"),
                 os.environ.get("ProgramFiles", r"C:\Program Files")]
        for base in bases:
            for entry in Path(base).glob("Python3*") if base and os.path.isdir(base) else ():
                match = re.fullmatch(r"Python3(\d+)", entry.name)
                if match and (entry / "python.exe").exists():
                    found.add((3, int(match.group(1))))
    elif name == "darwin":
        for entry in Path("/Library/Frameworks/Python.framework/Versions").glob("3.*"):
            match = re.fullmatch(r"3\.(\d+)", entry.name)
            if match:
                found.add((3, int(match.group(1))))
    return sorted(found)


def obs_python_setting(config_dir: Path) -> str | None:
    """The Python install chosen in OBS's Tools > Scripts > Python Settings ([Python] Path64bit,
    in user.ini from OBS 31, global.ini before)."""
    import configparser

    for name in ("user.ini", "global.ini"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string((config_dir / name).read_text(encoding="utf-8-sig"))
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue
        for key in ("Path64bit", "PathARM64", "Path"):
            value = parser.get("Python", key, fallback="").strip()
            if value:
                return value
    return None


def python_version_of_path(path: str) -> tuple[int, int] | None:
    """'C:/Users/me/AppData/Local/Programs/Python/Python311' -> (3, 11); '.../Versions/3.12' -> (3, 12)."""
    match = re.search(r"(?:python|Python)[ -]?3\.?(\d{1,2})(?!\d)", path) or re.search(r"(?<!\d)3\.(\d{1,2})(?!\d)", path)
    return (3, int(match.group(1))) if match else None


def check_obs_python(obs: ObsInstall | None, platform_name: str | None = None,
                     linux_python: tuple[str, str] | None = None, installed: list | None = None,
                     chosen: str | None = None) -> Check:
    name = platform_name or sys.platform
    if obs is None:
        return Check(None, "Which Python OBS loads: unknown until OBS is installed", "install OBS Studio first")
    if name.startswith("linux"):
        if obs.kind == "flatpak":
            return Check(True, "OBS runs from Flatpak: its scripts use the sandbox's own Python, and the filter "
                               "starts the worker on the host through flatpak-spawn (keep obs-faceswap in your home "
                               "folder, not under /usr, so the sandbox can read obs_faceswap.py)")
        if linux_python is None:
            return Check(False, "This OBS has no Python scripting (no _obspython.so found)",
                         "install your distribution's full obs-studio package (Debian/Ubuntu: sudo apt install obs-studio)")
        version, module = linux_python
        return Check(True, f"OBS loads the system's Python {version} for scripts ({module}); it needs no packages")
    limit = obs_python_limit(obs.version) if obs.version else (3, 12)
    if limit is None:
        return Check(False, "This OBS is too old for Python scripts", "update OBS Studio to 28 or newer")
    label = f"OBS {version_text(obs.version)}" if obs.version else "OBS"
    settings = "OBS: Tools > Scripts > Python Settings"
    if chosen:
        version = python_version_of_path(chosen)
        if version is not None and not OBS_SCRIPT_MIN_PYTHON <= version <= limit:
            return Check(False, f"{settings} names Python {version_text(version)} ({chosen}); {label} loads Python "
                                f"up to {version_text(limit)}",
                         f"install Python {version_text(limit)} from https://www.python.org/downloads/ and select it "
                         f"in {settings}")
        shown = f"Python {version_text(version)}" if version else "a Python"
        return Check(True, f"{label} loads {shown} for scripts ({chosen}, set in Python Settings); it needs no packages")
    usable = [v for v in installed or [] if OBS_SCRIPT_MIN_PYTHON <= v <= limit]
    if not usable:
        seen = ", ".join(version_text(v) for v in installed or []) or "none"
        return Check(False, f"{label} loads Python up to {version_text(limit)} for scripts; installed: {seen}",
                     f"install Python {version_text(limit)} from https://www.python.org/downloads/ and select it in "
                     "OBS: Tools > Scripts > Python Settings")
    best = version_text(max(usable))
    return Check(None, f"{label} can load the installed Python {best}, but none is selected for scripts yet",
                 f"select it in {settings}")


def check_macos_python(obs: ObsInstall | None, framework: str = MAC_FRAMEWORK,
                       machine: str | None = None) -> Check | None:
    """macOS: the Python OBS will really load, and whether its processor matches OBS's.

    OBS up to 31.0.1 loads Python.framework/Versions/Current, whatever Python Settings
    names, and a later python.org install moves Current. An x86_64-only Python cannot
    load into arm64 OBS (and the reverse). None when there is nothing to say."""
    if obs is None:
        return None
    versions = Path(framework) / "Versions"
    current = versions / "Current"
    if not current.exists():
        return None
    version = python_version_of_path(os.path.realpath(current))
    limit = obs_python_limit(obs.version) if obs.version else (3, 12)
    label = f"OBS {version_text(obs.version)}" if obs.version else "OBS"
    old_obs = obs.version is not None and tuple(obs.version[:3]) <= MAC_CURRENT_ONLY_UNTIL
    if old_obs and version is not None and limit is not None and version > limit:
        wanted = version_text(limit)
        return Check(False, f"{label} loads only {current}, which is Python {version_text(version)}; it loads up to "
                            f"{wanted}",
                     f"point Current at {wanted} (sudo ln -sfn {wanted} {current}; a later python.org install "
                     "moved it), or update OBS Studio to 31.1 or newer")
    library = current / "Python"
    slices = launch.macho_architectures(os.path.realpath(library))
    obs_slices = launch.macho_architectures(os.path.join(obs.path, "Contents", "MacOS", "OBS")) or [
        machine or platform.machine()]
    if slices and not set(obs_slices) & set(slices):
        return Check(False, f"Python {version_text(version) if version else ''} in {framework} is built for "
                            f"{', '.join(slices)} only; {label} runs on {', '.join(obs_slices)}",
                     "install Python from python.org's universal2 installer (macOS 64-bit universal2), then select "
                     "it in OBS: Tools > Scripts > Python Settings")
    return Check(True, f"{label} loads {os.path.realpath(current)} ({', '.join(slices) or 'architecture unknown'})")


def check_script(project_root: Path = PROJECT_ROOT) -> Check:
    script = project_root / "obs_faceswap.py"
    if not script.is_file():
        return Check(False, f"obs_faceswap.py is missing from {project_root}", "download obs-faceswap again")
    return Check(True, f"Script to add in OBS (Tools > Scripts > +): {script}")


def obs_config_dir(platform_name: str | None = None, obs: ObsInstall | None = None) -> Path:
    """Where OBS keeps its settings (scene collections list the scripts it loads): the
    Flatpak keeps its own under ~/.var/app, whatever XDG_CONFIG_HOME says outside."""
    name = platform_name or sys.platform
    if obs is not None and obs.kind == "flatpak":
        return Path.home() / ".var" / "app" / systems.FLATPAK_APP_ID / "config" / "obs-studio"
    if name.startswith("win"):
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "obs-studio"
    if name == "darwin":
        return Path.home() / "Library" / "Application Support" / "obs-studio"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "obs-studio"


def scripts_in_obs(config_dir: Path) -> dict[str, list[str]]:
    """Scene collection name -> the script paths OBS loads with it (Tools > Scripts records them there)."""
    found: dict[str, list[str]] = {}
    for collection in sorted((config_dir / "basic" / "scenes").glob("*.json")):
        try:
            data = json.loads(collection.read_text(encoding="utf-8"))
            entries = data.get("modules", {}).get("scripts-tool", [])
            found[collection.stem] = [str(entry.get("path", "")) for entry in entries if isinstance(entry, dict)]
        except (OSError, ValueError, AttributeError):
            continue
    return found


def check_script_loaded(config_dir: Path, project_root: Path = PROJECT_ROOT) -> Check:
    """Has the user added this obs_faceswap.py in OBS (in any scene collection)?"""
    ours = project_root / "obs_faceswap.py"
    add = f"in OBS: Tools > Scripts > + and choose {ours}"
    elsewhere = []
    for collection, paths in scripts_in_obs(config_dir).items():
        for path in paths:
            if Path(path).name != "obs_faceswap.py":
                continue
            if _same_file(path, ours):
                return Check(True, f"OBS loads this obs_faceswap.py (scene collection {collection})")
            elsewhere.append(f"{path} ({collection})")
    if elsewhere:
        return Check(False, f"OBS loads obs_faceswap.py from another folder: {', '.join(elsewhere)}",
                     f"remove it in OBS (Tools > Scripts > -), then {add[len('in OBS: '):]}")
    return Check(None, "OBS does not load obs_faceswap.py yet", add)


def _same_file(path: str, other: Path) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return os.path.normcase(os.path.abspath(path)) == os.path.normcase(str(other))


# ---- all together -------------------------------------------------------------------------

def gather(config: str | None = None, python: str | None = None, model_dir: str | None = None,
           full_models: bool = True, server: dict | None = None) -> list[Check]:
    """Every check, on this computer, in the order a user fixes things. server: the Triton
    server's settings (address, key, tls, certificate), checked too when given."""
    path = config or install_config.config_path()
    configured = install_config.configured_worker_python(path)
    fallback = fallback_worker_python()
    worker = python or configured or fallback or sys.executable
    checks = [check_config(path, configured, fallback)] if python is None else []
    health = worker_venv.probe(worker)
    checks += [check for check in (check_folder_for_mediapipe(worker),) if check is not None]
    checks += [check_worker_python(health, worker), check_worker_packages(health, worker),
               check_onnxruntime(health, worker), check_engine_packages(health, "neural"),
               check_gpu(machine_probe.probe(), health, runtime_choice.choose,
                         install_config.read_config(path).get("runtime_requested", "auto") if python is None else "auto")]
    checks += [check_models(model_dir, full=full_models), check_credentials()]
    if server:
        checks.append(check_triton_server(**server))
    obs = find_obs()
    checks += [check_obs(obs), check_obs_python(obs, linux_python=linux_obs_python(), installed=python_installs(),
                                                chosen=obs_python_setting(obs_config_dir(obs=obs)))]
    if sys.platform == "darwin":
        checks += [check for check in (check_macos_python(obs),) if check is not None]
    checks += [check_script(), check_script_loaded(obs_config_dir(obs=obs))]
    return checks


def render(checks: list[Check]) -> str:
    marks = {True: "ok  ", False: "FAIL", None: "--  "}
    lines = ["obs-faceswap doctor"]
    for check in checks:
        lines.append(f"  {marks[check.ok]}  {check.what}")
        if check.fix and check.ok is not True:
            lines.append(f"        {'fix' if check.ok is False else 'add'}: {check.fix}")
    failed = sum(1 for check in checks if check.ok is False)
    lines.append("All good." if not failed else f"{failed} problem(s): do each 'fix' above, then run faceswap doctor again.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m faceswap_core.doctor`: works even when the worker's packages (numpy, OpenCV)
    are what is broken, which stops the `faceswap` command itself from starting."""
    import argparse

    from .commands import doctor as command

    parser = argparse.ArgumentParser(prog="python -m faceswap_core.doctor", description="Check the obs-faceswap install.")
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
