"""Shared memory that never touches a disk, one way per system.

- Linux (and Flatpak, whose sandbox shares the kernel): an anonymous memfd, sealed at
  its size (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) before anything maps it; the
  worker inherits the descriptor (`fd:N`). Why sealed: any process of the user can reach
  an open descriptor through /proc/<pid>/fd, and shrinking a mapped file kills whoever
  touches the lost pages with SIGBUS; OBS must never die of that.
- macOS: POSIX shared memory (shm_open with a random name, shm_unlink at once), the
  descriptor inherited the same way. No /dev/shm there, and a file under $TMPDIR is
  disk-backed. macOS sets a shared-memory object's size once (a second ftruncate fails),
  which is what the seals buy on Linux.
- Windows: a pagefile-backed mapping with an unguessable `Local\\` name
  (`map:SIZE:NAME`), opened by name in the worker. It goes with its last handle, so
  nothing is left after any exit or crash; a file in %TEMP% cannot even be deleted
  while mapped.
- A file (0600, O_EXCL, random name) only where a caller names a directory (tests,
  diagnosis): that is disk-backed everywhere but /dev/shm.

Nameless or unguessable everywhere, so a crash leaves nothing behind and nobody else
can open a channel by guessing. Standard library only (OBS's Python imports this).
"""

from __future__ import annotations

import mmap
import os
import secrets
import stat

from . import system as systems
from .layout import ChannelError

try:
    import fcntl
except ImportError:   # Windows
    fcntl = None

try:
    import _posixshmem   # what multiprocessing.shared_memory uses; not that class, whose
except ImportError:      # resource tracker would start sys.executable (inside OBS: OBS)
    _posixshmem = None

FILE_PREFIX = "obs-faceswap-"
MEMFD_NAME = "obs-faceswap-channel"   # a label in /proc/<pid>/fd, not a name anyone can open
SHM_PREFIX = "/ofs-"                  # macOS limits shm names to 31 bytes: 5 + 24 hex
FD_PREFIX = "fd:"                     # an inherited descriptor, not a file
MAP_PREFIX = "map:"                   # a Windows named mapping: map:SIZE:NAME
WINDOWS_NAMESPACE = "Local\\"         # the user's session namespace

MEMFD = "memfd"
POSIX_SHM = "posix-shm"
NAMED_MAPPING = "named-mapping"
FILE = "file"


def memfd_supported() -> bool:
    return hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")


def kind_for(system: str) -> str:
    """The shared memory a channel uses on `system` (no caller-named directory)."""
    if system == systems.WINDOWS:
        return NAMED_MAPPING
    if system == systems.MACOS or not memfd_supported():
        return POSIX_SHM
    return MEMFD


class SharedMemory:
    """One mapping and what keeps it: a descriptor (memfd, shm, file) or nothing else
    (a named mapping lives as long as some process maps it).

    `address` is what the worker is told, `pass_fds` what it must inherit for that
    address to mean anything, `path` a file to remove when done (None if none).
    """

    def __init__(self, mm: mmap.mmap, size: int, fd: int | None, address: str, path: str | None = None):
        self.mm = mm
        self.size = size
        self.fd = fd
        self.address = address
        self.path = path
        self.pass_fds = (fd,) if address.startswith(FD_PREFIX) else ()

    def close(self, unlink: bool = False) -> None:
        if self.mm is not None:
            try:
                self.mm.close()
            except BufferError:
                pass   # a view is still exported; the mapping goes with the process
            self.mm = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.path is not None and unlink:
            unlink_quietly(self.path)

    def linked(self) -> bool:
        """False once a file was removed (its owner went away); memory without a name
        is linked while we hold it."""
        if self.path is None:
            return self.mm is not None
        try:
            return self.fd is not None and os.fstat(self.fd).st_nlink > 0 and os.path.exists(self.path)
        except OSError:
            return False


# -- creating (OBS side) -----------------------------------------------------------------
def create(size: int, kind: str, directory: str | None = None) -> SharedMemory:
    """New shared memory of `size` bytes (zero-filled), of the given kind."""
    if kind == FILE:
        path = os.path.join(directory, f"{FILE_PREFIX}{os.getpid()}-{secrets.token_hex(16)}")
        fd = _private_file(path, size)
        return _map_descriptor(fd, size, path, path)
    if kind == NAMED_MAPPING:
        name = f"{WINDOWS_NAMESPACE}{FILE_PREFIX}{secrets.token_hex(16)}"
        return SharedMemory(_named_mapping(size, name), size, None, f"{MAP_PREFIX}{size}:{name}")
    fd = _sealed_memfd(size) if kind == MEMFD else _unlinked_shm(size)
    return _map_descriptor(fd, size, f"{FD_PREFIX}{fd}", None)


def _map_descriptor(fd: int, size: int, address: str, path: str | None) -> SharedMemory:
    try:
        mm = mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        if path is not None:
            unlink_quietly(path)
        raise
    return SharedMemory(mm, size, fd, address, path)


def _sealed_memfd(size: int) -> int:
    """An anonymous descriptor of `size` bytes whose size nobody can change; sealed before
    anything maps it, and F_SEAL_SEAL makes the seals themselves final."""
    fd = os.memfd_create(MEMFD_NAME, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlinked_shm(size: int) -> int:
    """POSIX shared memory with no name left: created under a random name, unlinked at
    once, so only descriptors (ours, then the worker's) reach it."""
    if _posixshmem is None:
        raise OSError("this Python has no POSIX shared memory (_posixshmem)")
    name = f"{SHM_PREFIX}{secrets.token_hex(12)}"
    fd = _posixshmem.shm_open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode=0o600)
    try:
        _posixshmem.shm_unlink(name)
        os.ftruncate(fd, size)
        os.set_inheritable(fd, False)   # passed on purpose (pass_fds), never by accident
    except BaseException:
        os.close(fd)
        raise
    return fd


def _named_mapping(size: int, name: str) -> mmap.mmap:
    """Windows: pagefile-backed memory under `name` (mmap's tagname; fileno -1)."""
    return mmap.mmap(-1, size, tagname=name)


def _private_file(path: str, size: int) -> int:
    """A new file of `size` bytes only our user can open; never an existing one or a link."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        unlink_quietly(path)
        raise
    return fd


# -- opening (worker side) ----------------------------------------------------------------
def open_address(address: str, system: str = systems.CURRENT) -> SharedMemory:
    """Map what `address` names, refusing memory someone could shrink under us.

    Raises ChannelError with a sentence saying what is wrong.
    """
    if address.startswith(MAP_PREFIX):
        size_text, _, name = address[len(MAP_PREFIX):].partition(":")
        if not size_text.isdigit() or not name.startswith(WINDOWS_NAMESPACE):
            raise ChannelError(f"channel address {address} is not a named mapping")
        try:
            mm = _named_mapping(int(size_text), name)
        except (OSError, ValueError, TypeError) as error:
            raise ChannelError(f"cannot open channel {name}: {error}") from None
        return SharedMemory(mm, int(size_text), None, address)
    if address.startswith(FD_PREFIX):
        fd = _inherited_descriptor(address, system)
        path = None
    else:
        path = address
        flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except OSError as error:
            raise ChannelError(f"cannot open channel {path}: {error.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        if size <= 0:
            raise ChannelError(f"channel {address} is empty")
        mm = mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return SharedMemory(mm, size, fd, address, path)


def _inherited_descriptor(address: str, system: str) -> int:
    """The descriptor an `fd:N` address names, once it is known that nobody can shrink
    it: mapping anything else could kill us with SIGBUS when it shrinks."""
    number = address[len(FD_PREFIX):]
    if not number.isdigit():
        raise ChannelError(f"channel address {address} does not name a descriptor")
    fd = int(number)
    try:
        info = os.fstat(fd)
    except OSError as error:
        raise ChannelError(f"cannot use channel {address}: {error.strerror}") from None
    if system == systems.MACOS:
        # POSIX shared memory there: its size is set once and cannot change after
        if stat.S_ISDIR(info.st_mode) or stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode) or stat.S_ISCHR(info.st_mode):
            raise ChannelError(f"refusing channel {address}: it is not shared memory")
        return fd
    if not stat.S_ISREG(info.st_mode):
        raise ChannelError(f"refusing channel {address}: it is not shared memory (not a regular file)")
    if not memfd_supported():
        raise ChannelError(f"channel {address} names a descriptor, but this system cannot seal one")
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    except OSError:   # a file that cannot be sealed at all
        seals = 0
    if not seals & fcntl.F_SEAL_SHRINK:
        raise ChannelError(f"refusing channel {address}: it is not sealed against shrinking, "
                           "and a shrink would crash whoever maps it")
    return fd


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
