"""Simulations of what other systems do wrong to us, run on this Linux machine.

Each models a failure mode of the real system, not only which branch our code takes:
- Windows: module handles above 4 GiB (64-bit DLLs load above 0x180000000), returned by a
  real C-callable `GetModuleHandleW` that ctypes cuts to 32 bits unless its result type
  is declared; `CDLL(name, handle=h)` finds symbols only through a handle it handed out.
- macOS: POSIX shared memory whose size the kernel rounds up to its page size (xnu
  `pshm_truncate`; `fstat` reports the rounded size), 16 KiB on Apple Silicon.
- Flatpak: a sandbox whose /usr is the runtime's, so a venv's `bin/python` (a link to
  the host's `/usr/bin/python3.X`) dangles inside it and runs only on the host.
"""

from __future__ import annotations

import ctypes
import os

# -- Windows ----------------------------------------------------------------------------------
WINDOWS_MODULE_BASE = 0x7FFB_1234_0000   # where ASLR puts 64-bit DLLs: far above 2**32
MODULE_HANDLE = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_wchar_p)


class _DefaultResultFunction(ctypes._CFuncPtr):
    """A foreign function as a ctypes library attribute gives it: result C int until told."""
    _flags_ = ctypes._FUNCFLAG_CDECL
    _restype_ = ctypes.c_int


class _Unresolvable:
    """A library opened through a handle that is no module: GetProcAddress finds nothing."""

    def __init__(self, name: str, handle: int):
        self._name, self._handle = name, handle

    def __getattr__(self, symbol: str):
        raise AttributeError(f"function '{symbol}' not found (handle {self._handle:#x} is no loaded module)")


class WindowsModules:
    """kernel32's GetModuleHandleW and ctypes' CDLL/WinDLL as on 64-bit Windows, for the
    DLLs named in `modules` (DLL name -> a real library file here that stands for it)."""

    def __init__(self, modules: dict[str, str]):
        self.real_cdll = ctypes.CDLL
        self.handles: dict[str, int] = {}
        self.libraries: dict[int, ctypes.CDLL] = {}
        for index, (name, path) in enumerate(modules.items()):
            handle = WINDOWS_MODULE_BASE + index * 0x100_0000
            self.handles[name.lower()] = handle
            self.libraries[handle] = self.real_cdll(path)
        self.handles_given_to_cdll: list = []
        self._callback = MODULE_HANDLE(self._get_module_handle)   # kept alive with us

    def _get_module_handle(self, name) -> int:
        return self.handles.get((name or "").lower(), 0)

    def WinDLL(self, name: str, *args, **kwargs):
        if name.lower() not in ("kernel32", "kernel32.dll"):
            raise OSError(f"[WinError 126] The specified module could not be found: {name}")
        kernel32 = type("kernel32", (), {})()
        kernel32.GetModuleHandleW = _DefaultResultFunction(ctypes.cast(self._callback, ctypes.c_void_p).value)
        return kernel32

    def CDLL(self, name, mode=0, handle=None, **kwargs):
        if handle is None:
            handle = self._get_module_handle(name)
            if not handle:
                raise OSError(f"[WinError 126] The specified module could not be found: {name}")
        self.handles_given_to_cdll.append(handle)
        real = self.libraries.get(handle)
        if real is None:
            return _Unresolvable(name, handle)
        return self.real_cdll(real._name, handle=real._handle)

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(ctypes, "WinDLL", self.WinDLL, raising=False)
        monkeypatch.setattr(ctypes, "CDLL", self.CDLL)


# -- macOS ------------------------------------------------------------------------------------
APPLE_SILICON_PAGE = 16384


def rounding_shared_memory_sizes(monkeypatch, page: int = APPLE_SILICON_PAGE) -> None:
    """ftruncate of a POSIX shared-memory object rounds its size up to whole pages, as
    xnu does (and fstat then reports the rounded size); other descriptors keep theirs."""
    real_ftruncate = os.ftruncate

    def ftruncate(fd: int, length: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target.startswith("/dev/shm/"):
            length = -(-length // page) * page
        real_ftruncate(fd, length)

    monkeypatch.setattr(os, "ftruncate", ftruncate)


# -- Flatpak ----------------------------------------------------------------------------------
FAKE_FLATPAK_SPAWN = r"""#!/bin/sh
# flatpak-spawn --host, as far as the worker can tell: --env and --directory applied, the
# descriptors passed with --forward-fd kept (inherited here), and
# - the command is a host process, not flatpak-spawn's child: killing flatpak-spawn only
#   sends it SIGINT (--watch-bus); killing it takes `flatpak-spawn --host kill PID`;
# - FLATPAK_SIM_HOST_ROOT: a folder the sandbox sees empty has the host's files
#   (FLATPAK_SIM_HOST_FILES) mounted there, as the host's /usr has its Python;
# - FLATPAK_SIM_PID_NAMESPACE: another PID namespace, where the sandbox's pids mean nothing.
while [ $# -gt 0 ]; do
    case "$1" in
        --host|--watch-bus) shift ;;
        --forward-fd=*) shift ;;
        --directory=*) cd "${1#--directory=}"; shift ;;
        --env=*) export "${1#--env=}"; shift ;;
        *) break ;;
    esac
done
echo "$@" >> "$(dirname "$0")/commands"
if [ -n "$FLATPAK_SIM_PID_NAMESPACE" ]; then
    exec unshare --pid --fork --kill-child "$@"
fi
if [ -n "$FLATPAK_SIM_HOST_ROOT" ]; then
    set -- unshare --mount sh -c 'mount --bind "$FLATPAK_SIM_HOST_FILES" "$FLATPAK_SIM_HOST_ROOT" && exec "$@"' host "$@"
fi
exec 3<&0                 # an asynchronous command's stdin is /dev/null unless passed on
"$@" <&3 3<&- &
child=$!
spawn=$$
( while kill -0 $spawn 2>/dev/null; do sleep 0.1; done; kill -INT $child 2>/dev/null ) </dev/null >/dev/null 2>&1 &
wait $child
"""


def fake_flatpak_spawn(bin_dir) -> str:
    """Writes the stand-in for flatpak-spawn into `bin_dir`; returns its path."""
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, "flatpak-spawn")
    with open(path, "w") as handle:
        handle.write(FAKE_FLATPAK_SPAWN)
    os.chmod(path, 0o755)
    return path


def venv_whose_python_is_only_on_the_host(folder, venv: str, monkeypatch) -> str:
    """A venv like the installer's, whose bin/python links to a host Python that the
    sandbox's /usr does not have: the link dangles here, and resolves inside the fake
    flatpak-spawn (which mounts the host's files). Returns the venv's python."""
    host_root = os.path.join(folder, "host-usr")          # empty in the 'sandbox'
    host_files = os.path.join(folder, "host-usr-files")   # what the host has there
    os.makedirs(host_root)
    os.makedirs(host_files)
    real_python = os.path.realpath(os.path.join(venv, "bin", "python"))
    os.symlink(real_python, os.path.join(host_files, "python3"))
    copy = os.path.join(folder, "venv")
    os.makedirs(os.path.join(copy, "bin"))
    with open(os.path.join(venv, "pyvenv.cfg")) as source, open(os.path.join(copy, "pyvenv.cfg"), "w") as target:
        target.write(source.read())
    for part in ("lib", "lib64"):
        if os.path.exists(os.path.join(venv, part)):
            os.symlink(os.path.realpath(os.path.join(venv, part)), os.path.join(copy, part))
    python = os.path.join(copy, "bin", "python")
    os.symlink(os.path.join(host_root, "python3"), python)
    monkeypatch.setenv("FLATPAK_SIM_HOST_ROOT", host_root)
    monkeypatch.setenv("FLATPAK_SIM_HOST_FILES", host_files)
    return python


def files_undeletable_while_open(monkeypatch, held_elsewhere: set | None = None) -> set:
    """Windows keeps a file that is open or mapped anywhere from being deleted, renamed over
    or replaced (the C runtime's open does not grant FILE_SHARE_DELETE; an antivirus
    scanner holds files it reads). Open or mapped here is read from /proc; `held_elsewhere`
    (returned, to add to or empty) stands for other programs' handles."""
    held_elsewhere = set() if held_elsewhere is None else held_elsewhere
    real_unlink, real_replace, real_rename = os.unlink, os.replace, os.rename

    def held(path) -> bool:
        real = os.path.realpath(path)
        if real in held_elsewhere:
            return True
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == real:
                    return True
            except OSError:
                continue
        with open("/proc/self/maps") as maps:
            return any(line.rstrip("\n").endswith(" " + real) for line in maps)

    def refuse_if_held(*paths):
        for path in paths:
            if os.path.exists(path) and held(path):
                raise PermissionError(13, "The process cannot access the file because it is being used by "
                                          "another process", str(path))

    def unlink(path, *args, **kwargs):
        refuse_if_held(path)
        real_unlink(path, *args, **kwargs)

    def replace(source, target, *args, **kwargs):
        refuse_if_held(source, target)
        real_replace(source, target, *args, **kwargs)

    def rename(source, target, *args, **kwargs):
        refuse_if_held(source, target)
        real_rename(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "remove", unlink)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return held_elsewhere
