"""The shared-memory channel between one OBS filter instance and its worker process.

Standard library only: both OBS's embedded Python and the worker import this module.

One channel per filter instance, created by the OBS side. On Linux it is an anonymous
memfd, sealed at its size (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) before anything maps
it, and the worker inherits its descriptor (`fd:N`). Why: any process of the user can
reach an open file through /proc/<pid>/fd, and shrinking a mapped file kills whoever
touches the lost pages with SIGBUS; OBS must never die of that, so the size is made
unchangeable. Having no name, it cannot be guessed, and a crash cannot leave it behind.
Where there is no memfd (Windows, macOS), and wherever a caller names a directory, it is
a file private to the user (mode 0600, O_EXCL, a random 128-bit name) in the temp dir.
Layout:

    [0, 4096)            header: magic, version, sizes, sequence numbers, geometry,
                         worker state/stats, last error, photo note, live settings (JSON)
    [4096, 4096+C)       input slot: one BGRA frame written by OBS
    [4096+C, 4096+2C)    output slot: one BGRA frame written by the worker

Why two slots and not a ring: the filter hands over a frame only when the worker is
free (in_ack == in_seq), so at most one frame is ever in flight and the newest frame
always wins; a ring would only queue stale frames (latency) that are dropped anyway.

Each direction has exactly one writer, so no lock is needed: a writer fills the pixels
and the geometry first and bumps the sequence number last; the reader looks at the
sequence number first. Every field is naturally aligned and read and written with one
load or store (HeaderFields), so the other side never sees half a value.
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
import stat
import sys
import tempfile
import time

try:
    import fcntl
except ImportError:   # Windows: no memfd, the channel is a file
    fcntl = None

MAGIC = b"OBSFSWP\x00"
VERSION = 2
HEADER_SIZE = 4096
PAGE = 4096
MAX_SIDE = 16384
ERROR_OFFSET = 256
ERROR_SIZE = 256
NOTE_OFFSET = 512     # tips about the photo while running: not errors, shown apart from them
NOTE_SIZE = 512
SETTINGS_OFFSET = 1024
SETTINGS_SIZE = HEADER_SIZE - SETTINGS_OFFSET
FILE_PREFIX = "obs-faceswap-"
MEMFD_NAME = "obs-faceswap-channel"   # a label in /proc/<pid>/fd, not a name anyone can open
FD_PREFIX = "fd:"                      # an address naming an inherited descriptor, not a file
SEQ_MASK = (1 << 64) - 1   # sequence numbers are u64 and wrap

# Worker states, as shown in the filter's status line.
STATE_STOPPED = 0     # no worker (not started yet, or exited)
STATE_STARTING = 1    # process started, importing the engine
STATE_NO_SOURCE = 2   # running, but no usable source photo: frames are not wanted
STATE_RUNNING = 3     # swapping frames
STATE_ERROR = 4       # a setting the user must fix (the error text says which)
STATE_NAMES = {
    STATE_STOPPED: "stopped",
    STATE_STARTING: "starting",
    STATE_NO_SOURCE: "waiting for a source photo",
    STATE_RUNNING: "running",
    STATE_ERROR: "error",
}

# name -> (format, offset): unsigned 32-bit "I" or 64-bit "Q" integers (and the magic
# bytes), naturally aligned, in the machine's byte order (both ends of a channel run on
# one machine; OBS runs only on little-endian ones).
FIELDS = {
    "magic": ("8s", 0),
    "version": ("I", 8),
    "header_size": ("I", 12),
    "slot_capacity": ("Q", 16),
    "owner_pid": ("I", 24),
    "worker_pid": ("I", 28),
    "worker_state": ("I", 32),
    # input: written by OBS
    "in_seq": ("Q", 40),
    "in_width": ("I", 56),
    "in_height": ("I", 60),
    "in_stride": ("I", 64),
    "in_time_ns": ("Q", 72),
    # written by the worker when it is done with in_seq (it is free again)
    "in_ack": ("Q", 48),
    # output: written by the worker
    "out_seq": ("Q", 80),
    "out_width": ("I", 88),
    "out_height": ("I", 92),
    "out_stride": ("I", 96),
    "out_faces": ("I", 100),
    "out_in_time_ns": ("Q", 104),
    "out_done_ns": ("Q", 112),
    "fps_x100": ("I", 120),
    "process_us": ("I", 124),
    # live settings: written by OBS
    "settings_seq": ("Q", 128),
    "settings_len": ("I", 136),
    "heartbeat_ns": ("Q", 144),
}
class HeaderFields:
    """The header's numeric fields, each read and written with one aligned load or store.

    Not struct.pack_into: CPython's packer clears a field before it writes it, so the
    other process can read 0 in between (a heartbeat read as 0 got a healthy worker
    replaced; under load a writer preempted mid-write makes the window milliseconds).
    An item of a typed memoryview is one native load or store. The views export the
    buffer: release() them before the mapping is closed.
    """

    def __init__(self, buffer):
        header = memoryview(buffer)[:HEADER_SIZE]
        self._views = {item: header.cast(item) for item in ("I", "Q")}
        self._header = header
        self._slots = {name: (self._views[fmt], offset // self._views[fmt].itemsize)
                       for name, (fmt, offset) in FIELDS.items() if fmt in self._views}

    def get(self, name: str) -> int:
        view, index = self._slots[name]
        return view[index]

    def set(self, name: str, value: int) -> None:
        view, index = self._slots[name]
        view[index] = value

    def release(self) -> None:
        for view in self._views.values():
            view.release()
        self._header.release()


class ChannelError(Exception):
    """The file is not a valid channel (wrong magic, version, sizes or geometry)."""


def now_ns() -> int:
    """The clock both processes stamp frames with (system-wide monotonic)."""
    return time.monotonic_ns()


def channel_dir() -> str:
    """Where channel files live: RAM-backed /dev/shm on Linux, the temp dir elsewhere."""
    if sys.platform.startswith("linux") and os.path.isdir("/dev/shm"):
        return "/dev/shm"
    return tempfile.gettempdir()


def memfd_supported() -> bool:
    """Whether channels can be sealed memfds (Linux) rather than files."""
    return hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")


def slot_capacity_for(width: int, height: int) -> int:
    """Bytes per slot for a BGRA frame, rounded up to whole pages."""
    size = max(1, width) * max(1, height) * 4
    return (size + PAGE - 1) // PAGE * PAGE


def file_size_for(capacity: int) -> int:
    return HEADER_SIZE + 2 * capacity


class Channel:
    """A mapped channel; field access by name, slots by offset.

    `address` is what the worker is told (`--channel`), and `pass_fds` what it must
    inherit for that address to mean anything: the memfd, or nothing for a file.
    `path` is the file, or None for a memfd.
    """

    def __init__(self, path: str | None, fd: int, mm: mmap.mmap, owner: bool):
        self.path = path
        self.address = path if path is not None else f"{FD_PREFIX}{fd}"
        self.pass_fds = () if path is not None else (fd,)
        self._fd = fd
        self.mm = mm
        self.owner = owner
        self._fields = HeaderFields(mm)
        self.capacity = self.get("slot_capacity")
        self.in_offset = HEADER_SIZE
        self.out_offset = HEADER_SIZE + self.capacity

    # -- lifetime ------------------------------------------------------------------
    @classmethod
    def create(cls, width: int, height: int, directory: str | None = None) -> "Channel":
        """A new private channel big enough for width x height BGRA frames (OBS side):
        a sealed memfd where there is one, else a file in `directory` (or channel_dir())."""
        capacity = slot_capacity_for(width, height)
        size = file_size_for(capacity)
        if directory is None and memfd_supported():
            path, fd = None, _sealed_memfd(size)
        else:
            path = os.path.join(directory or channel_dir(), f"{FILE_PREFIX}{os.getpid()}-{secrets.token_hex(16)}")
            fd = _private_file(path, size)
        try:
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            if path is not None:
                _unlink_quietly(path)
            raise
        mm[0:len(MAGIC)] = MAGIC
        fields = HeaderFields(mm)
        for name, value in (("version", VERSION), ("header_size", HEADER_SIZE),
                            ("slot_capacity", capacity), ("owner_pid", os.getpid())):
            fields.set(name, value)
        fields.release()
        return cls(path, fd, mm, owner=True)

    @classmethod
    def attach(cls, address: str) -> "Channel":
        """Map an existing channel (worker side); raises ChannelError unless it is valid.

        `fd:N` is a memfd inherited from the filter, anything else a file's path."""
        if address.startswith(FD_PREFIX):
            path, fd = None, _inherited_memfd(address)
        else:
            path = address
            flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            try:
                fd = os.open(path, flags)
            except OSError as error:
                raise ChannelError(f"cannot open channel {path}: {error.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size < HEADER_SIZE:
                raise ChannelError(f"channel {address} is {size} bytes, smaller than its header")
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        try:
            validate_header(mm, size)
        except ChannelError:
            mm.close()
            os.close(fd)
            raise
        return cls(path, fd, mm, owner=False)

    def close(self, unlink: bool | None = None) -> None:
        """Unmap; the owner (or whoever is told to) also removes the file, if it is one."""
        if self.mm is not None:
            self._fields.release()
            try:
                self.mm.close()
            except BufferError:
                pass  # a view is still exported; the mapping goes with the process
            self.mm = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None and (self.owner if unlink is None else unlink):
            _unlink_quietly(self.path)

    def is_linked(self) -> bool:
        """False once the file was removed (the owner went away). A memfd has no name to
        remove: it is linked while open, and its owner's pid and our stdin tell instead."""
        if self.path is None:
            return self._fd is not None
        try:
            return os.fstat(self._fd).st_nlink > 0 and os.path.exists(self.path)
        except OSError:
            return False

    # -- fields ----------------------------------------------------------------------
    def get(self, name: str) -> int:
        """Raises ValueError once the channel is closed (its views are released)."""
        return self._fields.get(name)

    def set(self, name: str, value: int) -> None:
        self._fields.set(name, value)

    def state(self) -> int:
        return self.get("worker_state")

    def worker_free(self) -> bool:
        return self.get("in_ack") == self.get("in_seq")

    # -- texts (worker writes, OBS shows) -------------------------------------------------
    def set_error(self, text: str) -> None:
        self._set_text(ERROR_OFFSET, ERROR_SIZE, text)

    def error(self) -> str:
        return self._text(ERROR_OFFSET, ERROR_SIZE)

    def set_note(self, text: str) -> None:
        self._set_text(NOTE_OFFSET, NOTE_SIZE, text)

    def note(self) -> str:
        return self._text(NOTE_OFFSET, NOTE_SIZE)

    def _set_text(self, offset: int, size: int, text: str) -> None:
        data = text.encode("utf-8", "replace")[: size - 1]
        self.mm[offset:offset + size] = data + b"\x00" * (size - len(data))

    def _text(self, offset: int, size: int) -> str:
        raw = bytes(self.mm[offset:offset + size])
        return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")

    # -- settings (OBS writes, worker reads) ---------------------------------------
    def write_settings(self, settings: dict) -> None:
        """Publish new settings: bytes first, then length, then the sequence number."""
        data = json.dumps(settings, sort_keys=True).encode("utf-8")
        if len(data) > SETTINGS_SIZE:
            raise ValueError(f"settings are {len(data)} bytes; at most {SETTINGS_SIZE} fit")
        seq = self.get("settings_seq") & ~1 & SEQ_MASK   # even, whatever a bad worker wrote there
        self.set("settings_seq", (seq + 1) & SEQ_MASK)   # odd: being written
        self.mm[SETTINGS_OFFSET:SETTINGS_OFFSET + len(data)] = data
        self.set("settings_len", len(data))
        self.set("settings_seq", (seq + 2) & SEQ_MASK)   # even: complete

    def read_settings(self) -> tuple[int, dict] | None:
        """(sequence, settings), or None while a write is in progress or the data is bad."""
        seq = self.get("settings_seq")
        if seq % 2:
            return None
        length = self.get("settings_len")
        if length > SETTINGS_SIZE:
            return None
        data = bytes(self.mm[SETTINGS_OFFSET:SETTINGS_OFFSET + length])
        if self.get("settings_seq") != seq:
            return None
        try:
            settings = json.loads(data.decode("utf-8")) if length else {}
        except ValueError:
            return None
        return (seq, settings) if isinstance(settings, dict) else None

    # -- frames ------------------------------------------------------------------------
    def input_geometry(self) -> tuple[int, int, int]:
        """(width, height, stride) of the frame in the input slot, validated."""
        geometry = self.get("in_width"), self.get("in_height"), self.get("in_stride")
        validate_geometry(*geometry, self.capacity)
        return geometry

    def output_geometry(self) -> tuple[int, int, int]:
        geometry = self.get("out_width"), self.get("out_height"), self.get("out_stride")
        validate_geometry(*geometry, self.capacity)
        return geometry


def validate_geometry(width: int, height: int, stride: int, capacity: int) -> None:
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ChannelError(f"frame size {width}x{height} is out of range")
    if stride < width * 4 or stride % 4:
        raise ChannelError(f"stride {stride} does not fit a {width}-pixel BGRA row")
    if stride * height > capacity:
        raise ChannelError(f"a {width}x{height} frame (stride {stride}) does not fit a {capacity}-byte slot")


def validate_header(buffer, size: int) -> None:
    """Check every header field that governs memory access; raises ChannelError."""
    magic = bytes(buffer[0:8])
    if magic != MAGIC:
        raise ChannelError("not an obs-faceswap channel (bad magic)")
    fields = HeaderFields(buffer)
    try:
        version, header_size = fields.get("version"), fields.get("header_size")
        capacity, settings_len = fields.get("slot_capacity"), fields.get("settings_len")
    finally:
        fields.release()
    if version != VERSION:
        raise ChannelError(f"channel version {version}; this worker speaks version {VERSION}")
    if header_size != HEADER_SIZE:
        raise ChannelError(f"header size {header_size}, expected {HEADER_SIZE}")
    if capacity <= 0 or capacity % PAGE or capacity > MAX_SIDE * MAX_SIDE * 4:
        raise ChannelError(f"slot capacity {capacity} is invalid")
    if file_size_for(capacity) != size:
        raise ChannelError(f"channel is {size} bytes; its header says {file_size_for(capacity)}")
    if settings_len > SETTINGS_SIZE:
        raise ChannelError(f"settings length {settings_len} exceeds {SETTINGS_SIZE}")


def stale_channel_files(directory: str | None = None) -> list[str]:
    """Our channel files whose creating process is gone (left by a crash of OBS)."""
    directory = directory or channel_dir()
    stale = []
    try:
        names = os.listdir(directory)
    except OSError:
        return stale
    for name in names:
        if not name.startswith(FILE_PREFIX):
            continue
        pid_text = name[len(FILE_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            path = os.path.join(directory, name)
            try:
                if os.stat(path).st_uid == getattr(os, "getuid", lambda: None)() or os.name == "nt":
                    stale.append(path)
            except OSError:
                continue
    return stale


def _pid_alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return True  # never remove on Windows by guess; the owner removes its own file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # Linux: a crashed owner stays a zombie until its parent reaps it
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _sealed_memfd(size: int) -> int:
    """An anonymous shared-memory descriptor of `size` bytes whose size nobody can change.

    Sealed before anything maps it; F_SEAL_SEAL makes the seals themselves final.
    """
    fd = os.memfd_create(MEMFD_NAME, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _private_file(path: str, size: int) -> int:
    """A new file of `size` bytes only our user can open; never an existing one or a link."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        _unlink_quietly(path)
        raise
    return fd


def _inherited_memfd(address: str) -> int:
    """The descriptor an `fd:N` address names, once it is known to be sealed against
    shrinking: mapping anything else could kill us with SIGBUS when it shrinks."""
    number = address[len(FD_PREFIX):]
    if not number.isdigit():
        raise ChannelError(f"channel address {address} does not name a descriptor")
    fd = int(number)
    try:
        info = os.fstat(fd)
    except OSError as error:
        raise ChannelError(f"cannot use channel {address}: {error.strerror}") from None
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


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass
