"""The channel's bytes: where each header field sits, and the checks that make them safe.

Layout of one channel (one filter instance, one worker):

    [0, 4096)            header: magic, version, sizes, sequence numbers, geometry,
                         worker state/stats, pairing token, last error, photo note,
                         live settings (JSON)
    [4096, 4096+C)       input slot: one frame written by OBS (BGRA from the render
                         path; an async source's own format from the camera path, its
                         planes one after another, see pixel_formats)
    [4096+C, 4096+3C)    two output slots: result k goes to slot (k-1) % 2, in the
                         input's format and line sizes

Why not a ring: the filter hands over a frame only when the input slot is free
(in_taken == in_seq), so the newest frame always wins and no stale frames queue up.
Most engines take a frame, answer it and only then free the input (one frame in
flight). An engine whose models run on a server frees the input as soon as it has a
copy, so the next frame's local work overlaps the server's work on this one: up to two
frames in flight. Their results come while OBS may be copying the previous one out,
hence two output slots: OBS marks the slot it copies from (out_reading), and the
worker never writes that one (see channel.Exchange).

Only this package names the fields: everything else goes through Channel and Exchange.
"""

from __future__ import annotations

from . import pixel_formats

MAGIC = b"OBSFSWP\x00"
VERSION = 5            # 5: two output slots, in_taken, out_reading; 4: pixel formats, planes, colour matrix
HEADER_SIZE = 4096
PAGE = 4096
LARGEST_PAGE = 65536   # the most a kernel rounds shared memory up by (arm64 Linux: 64 KiB pages)
MAX_SIDE = 16384
TOKEN_OFFSET = 160     # 16 random bytes: how a worker knows the channel is the one meant for it
TOKEN_SIZE = 16
MATRIX_OFFSET = 200    # 12 float32: the first three rows of the frame's YUV -> RGB matrix (OBS's, 0..1 units)
MATRIX_SIZE = 48
ERROR_OFFSET = 256
ERROR_SIZE = 256
NOTE_OFFSET = 512      # tips about the photo while running: not errors, shown apart from them
NOTE_SIZE = 512
SETTINGS_OFFSET = 1024
SETTINGS_SIZE = HEADER_SIZE - SETTINGS_OFFSET
SEQ_MASK = (1 << 64) - 1   # sequence numbers and the heartbeat are u64 and wrap
U32_MAX = (1 << 32) - 1

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

# name -> (format, offset): unsigned 32-bit "I" or 64-bit "Q" integers, naturally
# aligned, in the machine's byte order (both ends of a channel run on one machine).
FIELDS = {
    "version": ("I", 8),
    "header_size": ("I", 12),
    "slot_capacity": ("Q", 16),
    "owner_pid": ("I", 24),       # the creating process, as its own system sees it
    "worker_pid": ("I", 28),      # the worker, as its own system sees it (differs across a sandbox)
    "worker_state": ("I", 32),
    # input: written by OBS
    "in_seq": ("Q", 40),
    "in_width": ("I", 56),
    "in_height": ("I", 60),
    "in_stride": ("I", 64),
    "in_time_ns": ("Q", 72),      # OBS's clock: only OBS subtracts it
    # written by the worker when it is done with in_seq (it is free again)
    "in_ack": ("Q", 48),
    # output: written by the worker
    "out_seq": ("Q", 80),
    "out_width": ("I", 88),
    "out_height": ("I", 92),
    "out_stride": ("I", 96),
    "out_faces": ("I", 100),
    "out_in_time_ns": ("Q", 104),  # in_time_ns of the frame this result answers, copied back
    "fps_x100": ("I", 120),
    "process_us": ("I", 124),
    # live settings: written by OBS
    "settings_seq": ("Q", 128),
    "settings_len": ("I", 136),
    # a counter the worker bumps from its own thread; the observer times its changes on
    # its own clock (two processes' clocks need not agree: Windows, Pythons, sandboxes)
    "heartbeat": ("Q", 144),
    # pixel format and the line sizes of planes 1-3 (plane 0's is in_stride / out_stride)
    "in_format": ("I", 152),
    "in_stride1": ("I", 156),
    "in_stride2": ("I", 176),
    "in_stride3": ("I", 180),
    "out_format": ("I", 184),
    "out_stride1": ("I", 188),
    "out_stride2": ("I", 192),
    "out_stride3": ("I", 196),
    # written by the worker once it holds its own copy of in_seq's frame: the input slot is
    # free for the next one (with in_ack for engines that answer before letting go)
    "in_taken": ("Q", 112),
    # written by OBS: 1 + the output slot it is copying a result out of, 0 when none
    "out_reading": ("I", 140),
    # written by the worker before a result's fields (out_width ... process_us): the
    # result it is publishing; OBS reads those fields only while this equals out_seq
    "out_writing": ("Q", 248),
}
OUTPUT_SLOTS = 2
STRIDE_FIELDS = {"in": ("in_stride", "in_stride1", "in_stride2", "in_stride3"),
                 "out": ("out_stride", "out_stride1", "out_stride2", "out_stride3")}


class ChannelError(Exception):
    """The memory is not a valid channel (wrong magic, version, sizes or geometry)."""


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
        self._views = {item: header.cast(item) for item in ("I", "Q", "f")}
        self._header = header
        self._slots = {name: (self._views[fmt], offset // self._views[fmt].itemsize)
                       for name, (fmt, offset) in FIELDS.items()}

    def get(self, name: str) -> int:
        view, index = self._slots[name]
        return view[index]

    def set(self, name: str, value: int) -> None:
        view, index = self._slots[name]
        view[index] = value

    def get_floats(self, offset: int, count: int) -> tuple:
        start = offset // 4
        return tuple(self._views["f"][start:start + count])

    def set_floats(self, offset: int, values) -> None:
        start = offset // 4
        for index, value in enumerate(values):
            self._views["f"][start + index] = value

    def release(self) -> None:
        for view in self._views.values():
            view.release()
        self._header.release()


def slot_capacity_for(width: int, height: int) -> int:
    """Bytes per slot for a BGRA frame, rounded up to whole pages."""
    size = max(1, width) * max(1, height) * 4
    return (size + PAGE - 1) // PAGE * PAGE


def size_for(capacity: int) -> int:
    """Bytes of a whole channel whose slots hold `capacity` bytes each."""
    return HEADER_SIZE + (1 + OUTPUT_SLOTS) * capacity


def output_slot(seq: int) -> int:
    """Which output slot result `seq` is in (the first result, 1, is in slot 0)."""
    return (seq - 1) % OUTPUT_SLOTS


def output_offset(slot: int, capacity: int) -> int:
    """Where output slot `slot` starts in the mapping."""
    return HEADER_SIZE + (1 + slot) * capacity


def initialise(buffer, capacity: int, owner_pid: int, token: bytes) -> None:
    """Write a new channel's fixed header (the creator, before anyone else maps it)."""
    buffer[0:len(MAGIC)] = MAGIC
    buffer[TOKEN_OFFSET:TOKEN_OFFSET + TOKEN_SIZE] = token
    fields = HeaderFields(buffer)
    try:
        for name, value in (("version", VERSION), ("header_size", HEADER_SIZE),
                            ("slot_capacity", capacity), ("owner_pid", owner_pid)):
            fields.set(name, value)
    finally:
        fields.release()


def geometry_problem(width: int, height: int, stride: int, capacity: int) -> str:
    """Why a frame of this geometry cannot be read from a slot, or '' when it can."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return f"frame size {width}x{height} is out of range"
    if stride < width * 4 or stride % 4:
        return f"stride {stride} does not fit a {width}-pixel BGRA row"
    if stride * height > capacity:
        return f"a {width}x{height} frame (stride {stride}) does not fit a {capacity}-byte slot"
    return ""


def frame_problem(format_: int, width: int, height: int, strides, capacity: int) -> str:
    """geometry_problem for a frame in any pixel format (strides: one per plane)."""
    if format_ == pixel_formats.BGRA:
        return geometry_problem(width, height, strides[0] if strides else 0, capacity)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return f"frame size {width}x{height} is out of range"
    return pixel_formats.geometry_problem(format_, width, height, strides, capacity)


def validate_geometry(width: int, height: int, stride: int, capacity: int) -> None:
    problem = geometry_problem(width, height, stride, capacity)
    if problem:
        raise ChannelError(problem)


def validate_header(buffer, size: int) -> None:
    """Check every header field that governs memory access; raises ChannelError.

    `size` is how many bytes the shared memory holds. The header must describe that, less
    what the kernel added rounding it up to whole pages: macOS's xnu rounds a POSIX
    shared-memory object to its page size (16 KiB on Apple Silicon) and fstat reports the
    rounded size. Only the header's bytes are ever used.
    """
    if size < HEADER_SIZE:
        raise ChannelError(f"channel is {size} bytes, smaller than its header")
    magic = bytes(buffer[0:len(MAGIC)])
    if magic != MAGIC:
        raise ChannelError("not an obs-faceswap channel (bad magic)")
    fields = HeaderFields(buffer)
    try:
        version, header_size = fields.get("version"), fields.get("header_size")
        capacity, settings_len = fields.get("slot_capacity"), fields.get("settings_len")
    finally:
        fields.release()
    if version != VERSION:
        raise ChannelError(f"channel version {version}; this worker speaks version {VERSION} "
                           "(the filter and the worker come from different obs-faceswap versions: run the installer again)")
    if header_size != HEADER_SIZE:
        raise ChannelError(f"header size {header_size}, expected {HEADER_SIZE}")
    if capacity <= 0 or capacity % PAGE or capacity > MAX_SIDE * MAX_SIDE * 4:
        raise ChannelError(f"slot capacity {capacity} is invalid")
    described = size_for(capacity)
    if not described <= size < described + LARGEST_PAGE:
        raise ChannelError(f"channel is {size} bytes; its header says {described}")
    if settings_len > SETTINGS_SIZE:
        raise ChannelError(f"settings length {settings_len} exceeds {SETTINGS_SIZE}")
