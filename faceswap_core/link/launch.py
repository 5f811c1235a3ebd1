"""How the filter starts its worker on each system, and what keeps a worker from starting.

- Linux and macOS: the configured interpreter, the channel's descriptor inherited.
- Flatpak OBS: the worker's venv lives on the host (the sandbox has no host /usr to run
  it with), so it runs there through `flatpak-spawn --host`, the descriptor forwarded
  and the worker tied to OBS's session (--watch-bus). Pids differ across the sandbox:
  the worker is told no owner pid and recognises its channel by the token alone.
- Windows: no console window (OBS is a GUI process), error text in UTF-8 whatever the
  code page, the venv's Scripts\\python.exe; never the Microsoft Store's python alias.
Every function takes the system as a parameter, so each branch runs in tests anywhere.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct

from . import system as systems

# the folder holding obs_faceswap.py, faceswap_core/ and (where the user made one) .venv/
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLATPAK_SPAWN = "flatpak-spawn"
CREATE_NO_WINDOW = 0x08000000        # subprocess.CREATE_NO_WINDOW (defined on Windows only)
STORE_ALIAS_FOLDER = "\\microsoft\\windowsapps\\"
EBADARCH = 86                        # macOS: "Bad CPU type in executable"
# Python's own overrides from OBS's environment must not reach the worker's Python
DROPPED_VARIABLES = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE")
# Mach-O (mach-o/loader.h, mach-o/fat.h): cputype of the slices we can meet
MACHO_THIN = {0xFEEDFACF, 0xCFFAEDFE, 0xFEEDFACE, 0xCEFAEDFE}
MACHO_FAT = {0xCAFEBABE, 0xCAFEBABF}
CPU_TYPES = {0x01000007: "x86_64", 0x0100000C: "arm64", 7: "i386", 12: "arm"}


def worker_environment(system: str, base: dict, project_root: str) -> dict:
    env = {key: value for key, value in base.items() if key not in DROPPED_VARIABLES}
    env["PYTHONPATH"] = project_root
    env.setdefault("GLOG_minloglevel", "2")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONUNBUFFERED"] = "1"
    if system == systems.WINDOWS:
        env["PYTHONUTF8"] = "1"       # else its stderr is in the ANSI code page
    return env


def worker_command(system: str, interpreter: str, address: str, token: str, owner_pid: int,
                   pass_fds: tuple, project_root: str) -> tuple[list, dict]:
    """(argv, extra Popen keyword arguments) that start a worker for one channel."""
    worker = ["-m", "faceswap_core.worker", "--channel", address, "--token", token]
    if system == systems.FLATPAK:
        spawn = [FLATPAK_SPAWN, "--host", "--watch-bus", f"--directory={project_root}",
                 f"--env=PYTHONPATH={project_root}", "--env=PYTHONUNBUFFERED=1"]
        spawn += [f"--forward-fd={fd}" for fd in pass_fds]
        return spawn + [interpreter] + worker + ["--owner-pid", "0", "--stack-watchdog"], {"pass_fds": pass_fds}
    argv = [interpreter] + worker + ["--owner-pid", str(owner_pid)]
    if system == systems.WINDOWS:
        return argv, {"creationflags": CREATE_NO_WINDOW}
    return argv, {"pass_fds": pass_fds}


def tool_command(system: str, interpreter: str, arguments: list, project_root: str) -> tuple[list, dict]:
    """(argv, extra Popen keyword arguments) for a one-off `faceswap` command started from
    OBS (signing a recording): run where the worker runs, without a window."""
    command = ["-m", "faceswap_core.cli", *arguments]
    if system == systems.FLATPAK:
        return [FLATPAK_SPAWN, "--host", f"--directory={project_root}", f"--env=PYTHONPATH={project_root}",
                interpreter, *command], {}
    if system == systems.WINDOWS:
        return [interpreter, *command], {"creationflags": CREATE_NO_WINDOW}
    return [interpreter, *command], {}


def default_worker_python(system: str, venv: str) -> str:
    """The interpreter of a venv: Windows keeps it in Scripts\\, everything else in bin/."""
    if system == systems.WINDOWS:
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


def worker_interpreter(system: str = systems.CURRENT, project_root: str | None = None) -> str:
    """The worker's Python when the Worker Python setting is empty.

    In order: what the installer recorded (obs-faceswap.json next to obs_faceswap.py),
    $OBS_FACESWAP_PYTHON, the .venv next to the project, python3 on PATH (never the
    Microsoft Store's alias, which is no Python; never in Flatpak, where PATH is the
    sandbox's and the host's python3 lacks the worker's packages).
    """
    from ..install_config import configured_worker_python   # it reads paths through this module

    installed = configured_worker_python(system=system)
    if installed:
        return installed
    configured = os.environ.get("OBS_FACESWAP_PYTHON")
    if configured:
        return configured
    candidate = default_worker_python(system, os.path.join(project_root or PROJECT_ROOT, ".venv"))
    if interpreter_present(candidate, system) or system == systems.FLATPAK:
        return candidate
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found and not interpreter_problem(found, system):
            return found
    return candidate


def interpreter_present(interpreter: str, system: str) -> bool:
    """Whether `interpreter` is there to be started, judged where it will run.

    In Flatpak OBS the worker runs on the host, but this code runs in the sandbox, whose
    /usr is the runtime's: a venv's bin/python (a link to the host's /usr/bin/python3.X)
    dangles here. The link itself, in the user's home, is what the sandbox can judge."""
    if system == systems.FLATPAK:
        return os.path.lexists(interpreter)
    return os.path.isfile(interpreter)


def host_kill_command(system: str, worker_pid: int) -> list | None:
    """The command that kills a worker killing our child cannot reach, or None.

    Flatpak: our child is flatpak-spawn; the worker is a host process, which flatpak-spawn's
    death only sends SIGINT to (--watch-bus): a deadlocked worker lives on and a new one
    attaches beside it. The worker's own pid (from the channel) is a host pid."""
    if system != systems.FLATPAK or worker_pid <= 1:
        return None
    return [FLATPAK_SPAWN, "--host", "kill", "-KILL", str(worker_pid)]


def interpreter_problem(interpreter: str, system: str, machine: str | None = None) -> str:
    """Why `interpreter` cannot be the worker's Python here, or ''. One sentence, with the fix."""
    if system == systems.WINDOWS and STORE_ALIAS_FOLDER in interpreter.replace("/", "\\").lower():
        return (f"Worker Python '{interpreter}' is the Microsoft Store's python alias, not a Python: "
                "run the installer, or set Worker Python to the venv's Scripts\\python.exe.")
    if system == systems.MACOS:
        machine = machine or platform.machine()
        slices = _foreign_slices(interpreter, machine)
        if slices and not _runs_under_rosetta(slices, machine):
            return (f"Worker Python '{interpreter}' is built for {', '.join(slices)} only, but this OBS runs on "
                    f"{machine}: run the installer with a {machine} Python (python.org's universal2 installer, "
                    "or Homebrew's), or set Worker Python to one.")
    return ""


def _foreign_slices(interpreter: str, machine: str) -> list:
    """The processors a Mach-O worker Python is built for, when this Mac's is not one of
    them ([] when it is, or when the file is no Mach-O: unknown is not wrong)."""
    slices = macho_architectures(os.path.realpath(interpreter))
    return slices if machine not in slices else []


def _runs_under_rosetta(slices: list, machine: str) -> bool:
    """An Intel-only program on an Apple Silicon Mac: Rosetta 2 translates it (slower)."""
    return machine == "arm64" and "x86_64" in slices


def interpreter_note(interpreter: str, system: str, machine: str | None = None) -> str:
    """Something the user should know about a worker Python that runs, or ''."""
    if system != systems.MACOS:
        return ""
    machine = machine or platform.machine()
    slices = _foreign_slices(interpreter, machine)
    if slices and _runs_under_rosetta(slices, machine):
        return (f"Worker Python '{interpreter}' is built for x86_64 only and runs under Rosetta 2, slower than an "
                "arm64 Python: for full speed run the installer with python.org's universal2 Python, or Homebrew's.")
    return ""


def start_failure(interpreter: str, error: OSError, system: str) -> str:
    """What to tell the user when the worker's process could not be started at all."""
    if system == systems.MACOS and error.errno == EBADARCH:
        return (f"Worker Python '{interpreter}' is built for another processor and cannot run here: "
                "run the installer with this Mac's Python, or set Worker Python (an Intel-only Python on Apple "
                "Silicon also needs Rosetta 2: softwareupdate --install-rosetta).")
    if system == systems.FLATPAK and isinstance(error, FileNotFoundError):
        return ("OBS runs in Flatpak and flatpak-spawn is missing, so the worker cannot run on the host: "
                f"update the OBS Flatpak ({systems.FLATPAK_APP_ID}).")
    return (f"Cannot start the worker Python '{interpreter}': {error.strerror or error}. "
            "Run the installer, or set Worker Python.")


def macho_architectures(path: str) -> list[str]:
    """The CPU architectures a Mach-O executable holds ([] when it is not one or unreadable)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return []
    if len(head) < 8:
        return []
    magic_be = struct.unpack(">I", head[:4])[0]
    if magic_be in MACHO_FAT:
        count = struct.unpack(">I", head[4:8])[0]
        entry = 20 if magic_be == 0xCAFEBABE else 32
        types = []
        for index in range(min(count, (len(head) - 8) // entry)):
            cputype = struct.unpack(">I", head[8 + index * entry:12 + index * entry])[0]
            types.append(CPU_TYPES.get(cputype, hex(cputype)))
        return types
    if magic_be in MACHO_THIN:
        order = ">" if magic_be in (0xFEEDFACF, 0xFEEDFACE) else "<"
        cputype = struct.unpack(order + "I", head[4:8])[0]
        return [CPU_TYPES.get(cputype, hex(cputype))]
    return []
