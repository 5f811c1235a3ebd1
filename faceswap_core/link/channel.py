"""One channel between one filter instance and its worker, and the frame handshake.

Each direction has exactly one writer, so no lock is needed: a writer fills the pixels
and the geometry first and bumps the sequence number last; the reader looks at the
sequence number first. Every field is naturally aligned and read and written with one
load or store (HeaderFields), so the other side never sees half a value. On ARM plain
stores are not ordered between processes, so a barrier stands between a frame's bytes
and its sequence number on both sides (Exchange._fence).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import threading
from typing import NamedTuple

from . import layout
from . import memory
from . import pixel_formats
from . import system as systems
from .layout import HEADER_SIZE, ChannelError, HeaderFields


class Frame(NamedTuple):
    """A frame in a slot: its sequence number, geometry and the OBS-side time it was taken;
    its pixel format and every plane's line size (plane 0's is `stride`)."""
    seq: int
    width: int
    height: int
    stride: int
    time_ns: int
    format: int = pixel_formats.BGRA
    strides: tuple = ()

    def plane_strides(self) -> tuple:
        return self.strides or (self.stride,)


class Exchange:
    """The frame handshake, written once for both ends, over one mapping's header.

    OBS's render thread: worker_free, hand_over, take_result.
    The worker's main loop: take_frame, skip_frame, publish_result.
    An Exchange belongs to one thread; the render thread has its own over its own
    mapping of the same memory (the supervisor may close the channel under it).
    """

    def __init__(self, fields: HeaderFields, capacity: int):
        self.fields = fields
        self.capacity = capacity
        self._barrier = threading.Lock()
        self._barrier.acquire()

    def _fence(self) -> None:
        """A full memory barrier: releasing a lock then acquiring it, the cheapest one the
        standard library offers (release orders what came before, acquire what follows).
        x86 needs none; Apple Silicon and other ARM machines do."""
        self._barrier.release()
        self._barrier.acquire()

    # -- both ends ------------------------------------------------------------------
    def state(self) -> int:
        return self.fields.get("worker_state")

    def worker_free(self) -> bool:
        """No frame in flight: the worker is done with the last one handed over."""
        return self.fields.get("in_ack") == self.fields.get("in_seq")

    # -- OBS side -----------------------------------------------------------------------
    def hand_over(self, width: int, height: int, stride: int, time_ns: int,
                  format_: int = pixel_formats.BGRA, strides: tuple = (), matrix=None) -> None:
        """The input slot holds a new frame (its bytes written before this call).

        `strides`: every plane's line size for formats with several planes; `matrix`:
        the first 12 values of OBS's YUV -> RGB colour matrix for YUV formats."""
        fields = self.fields
        self._fence()
        fields.set("in_width", width)
        fields.set("in_height", height)
        fields.set("in_format", format_)
        for name, value in zip(layout.STRIDE_FIELDS["in"], strides or (stride,)):
            fields.set(name, value)
        if matrix is not None:
            fields.set_floats(layout.MATRIX_OFFSET, matrix[:12])
        fields.set("in_time_ns", time_ns)
        fields.set("in_seq", (fields.get("in_seq") + 1) & layout.SEQ_MASK)

    def colour_matrix(self) -> tuple:
        """The 3x4 YUV -> RGB matrix of the frame in flight, row by row (12 floats)."""
        return self.fields.get_floats(layout.MATRIX_OFFSET, 12)

    def result_seq(self) -> int:
        return self.fields.get("out_seq")

    def take_result(self, seen_seq: int) -> Frame | None:
        """The newest result if its sequence number is not `seen_seq`, else None.

        Its geometry is checked against the slot: a result that does not fit comes back
        with width 0 (seen, never to be read)."""
        fields = self.fields
        seq = fields.get("out_seq")
        if seq == seen_seq:
            return None
        self._fence()
        frame = self._frame("out", seq, fields.get("out_in_time_ns"))
        if layout.frame_problem(frame.format, frame.width, frame.height, frame.plane_strides(), self.capacity):
            return Frame(seq, 0, 0, 0, 0)
        return frame

    def _frame(self, side: str, seq: int, time_ns: int) -> Frame:
        fields = self.fields
        format_ = fields.get(f"{side}_format") or pixel_formats.BGRA
        count = len(pixel_formats.planes(format_, 1, 1)) if format_ in pixel_formats.SUPPORTED else 1
        strides = tuple(fields.get(name) for name in layout.STRIDE_FIELDS[side][:count])
        return Frame(seq, fields.get(f"{side}_width"), fields.get(f"{side}_height"), strides[0], time_ns,
                     format_, () if format_ == pixel_formats.BGRA else strides)

    def worker_time_us(self) -> int:
        """How long the worker took for its last frame."""
        return self.fields.get("process_us")

    # -- worker side ----------------------------------------------------------------------
    def take_frame(self) -> Frame | None:
        """The frame waiting in the input slot, or None; raises ChannelError when its
        geometry does not fit the slot (OBS's side is broken or hostile)."""
        fields = self.fields
        seq = fields.get("in_seq")
        if seq == fields.get("in_ack"):
            return None
        self._fence()
        frame = self._frame("in", seq, fields.get("in_time_ns"))
        problem = layout.frame_problem(frame.format, frame.width, frame.height, frame.plane_strides(), self.capacity)
        if problem:
            raise ChannelError(problem)
        return frame

    def skip_frame(self) -> None:
        """Done with whatever is in flight without answering it: OBS may hand over the next."""
        self.fields.set("in_ack", self.fields.get("in_seq"))

    def publish_result(self, frame: Frame, stride: int, faces: int, process_us: int) -> None:
        """The output slot holds the answer to `frame` (bytes written before this call):
        BGRA with `stride` for a BGRA frame, else the frame's own format and line sizes.
        Then the worker is free again."""
        fields = self.fields
        self._fence()
        fields.set("out_width", frame.width)
        fields.set("out_height", frame.height)
        fields.set("out_format", frame.format)
        strides = (stride,) if frame.format == pixel_formats.BGRA else frame.plane_strides()
        for name, value in zip(layout.STRIDE_FIELDS["out"], strides):
            fields.set(name, value)
        fields.set("out_faces", faces)
        fields.set("out_in_time_ns", frame.time_ns)
        fields.set("process_us", min(process_us, layout.U32_MAX))
        fields.set("out_seq", (fields.get("out_seq") + 1) & layout.SEQ_MASK)
        fields.set("in_ack", frame.seq)   # last: OBS may hand over the next frame now


class Channel:
    """A mapped channel: lifetime, the worker's report, settings, and its Exchange.

    `address` is what the worker is told (`--channel`), `pass_fds` what it must inherit
    for that address to mean anything, `token` (hex) what it must be told (`--token`)
    to recognise the channel as the one meant for it.
    """

    def __init__(self, memory_: memory.SharedMemory, owner: bool):
        self._memory = memory_
        self.mm = memory_.mm
        self.owner = owner
        self._fields = HeaderFields(self.mm)
        self.capacity = self._fields.get("slot_capacity")
        self.in_offset = HEADER_SIZE
        self.out_offset = HEADER_SIZE + self.capacity
        self.exchange = Exchange(self._fields, self.capacity)

    # -- lifetime ------------------------------------------------------------------
    @classmethod
    def create(cls, width: int, height: int, directory: str | None = None,
               system: str = systems.CURRENT) -> "Channel":
        """A new private channel big enough for width x height BGRA frames (OBS side):
        this system's shared memory, or a file in `directory` when one is named."""
        capacity = layout.slot_capacity_for(width, height)
        kind = memory.FILE if directory is not None else memory.kind_for(system)
        shared = memory.create(layout.size_for(capacity), kind, directory)
        layout.initialise(shared.mm, capacity, os.getpid(), secrets.token_bytes(layout.TOKEN_SIZE))
        return cls(shared, owner=True)

    @classmethod
    def attach(cls, address: str, system: str = systems.CURRENT) -> "Channel":
        """Map an existing channel (worker side); raises ChannelError unless it is valid.

        `fd:N` is a descriptor inherited from the filter, `map:SIZE:NAME` a Windows
        named mapping, anything else a file's path."""
        shared = memory.open_address(address, system)
        try:
            layout.validate_header(shared.mm, shared.size)
        except ChannelError:
            shared.close()
            raise
        return cls(shared, owner=False)

    @property
    def address(self) -> str:
        return self._memory.address

    @property
    def pass_fds(self) -> tuple:
        return self._memory.pass_fds

    @property
    def path(self) -> str | None:
        return self._memory.path

    @property
    def token(self) -> str:
        return bytes(self.mm[layout.TOKEN_OFFSET:layout.TOKEN_OFFSET + layout.TOKEN_SIZE]).hex()

    def close(self, unlink: bool | None = None) -> None:
        """Unmap; the owner (or whoever is told to) also removes the file, if it is one."""
        if self.mm is not None:
            self._fields.release()
            self.mm = None
        self._memory.close(unlink=self.owner if unlink is None else unlink)

    def is_linked(self) -> bool:
        """False once a channel file was removed (the owner went away). Memory without a
        name is linked while mapped; the owner's pid and our stdin tell instead."""
        return self._memory.linked()

    def bind(self) -> "Binding":
        """Another view of this mapping for another thread (see Binding)."""
        return Binding(self)

    # -- fields for the report (worker writes, OBS reads) ---------------------------------
    def get(self, name: str) -> int:
        """Raises ValueError once the channel is closed (its views are released)."""
        return self._fields.get(name)

    def set(self, name: str, value: int) -> None:
        self._fields.set(name, value)

    def state(self) -> int:
        return self.exchange.state()

    def set_state(self, state: int) -> None:
        self._fields.set("worker_state", state)

    def worker_free(self) -> bool:
        return self.exchange.worker_free()

    def fps(self) -> float:
        return self._fields.get("fps_x100") / 100

    def set_fps(self, fps: float) -> None:
        self._fields.set("fps_x100", min(int(fps * 100), layout.U32_MAX))

    def faces(self) -> int:
        """Faces swapped in the newest result."""
        return self._fields.get("out_faces")

    def heartbeat(self) -> int:
        return self._fields.get("heartbeat")

    def beat(self) -> None:
        """The worker is alive: bump the counter the filter watches."""
        self._fields.set("heartbeat", (self._fields.get("heartbeat") + 1) & layout.SEQ_MASK)

    def owner_pid(self) -> int:
        return self._fields.get("owner_pid")

    def worker_pid(self) -> int:
        return self._fields.get("worker_pid")

    def announce_worker(self, pid: int) -> None:
        """The worker attached: its pid (as its system sees it), nothing in flight yet."""
        self._fields.set("worker_pid", pid)
        self.set_error("")
        self.set_state(layout.STATE_STARTING)

    def prepare_for_worker(self) -> None:
        """Before a new worker starts (OBS side): no frame in flight, no beats, no error."""
        self.exchange.skip_frame()
        self.set_state(layout.STATE_STARTING)
        self._fields.set("heartbeat", 0)
        self._fields.set("worker_pid", 0)
        self.set_error("")

    def pending_frame_seq(self) -> int | None:
        """The sequence number of a frame handed over and not yet answered, or None."""
        seq = self._fields.get("in_seq")
        return None if seq == self._fields.get("in_ack") else seq

    # -- texts (worker writes, OBS shows) -------------------------------------------------
    def set_error(self, text: str) -> None:
        self._set_text(layout.ERROR_OFFSET, layout.ERROR_SIZE, text)

    def error(self) -> str:
        return self._text(layout.ERROR_OFFSET, layout.ERROR_SIZE)

    def set_note(self, text: str) -> None:
        self._set_text(layout.NOTE_OFFSET, layout.NOTE_SIZE, text)

    def note(self) -> str:
        return self._text(layout.NOTE_OFFSET, layout.NOTE_SIZE)

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
        if len(data) > layout.SETTINGS_SIZE:
            raise ValueError(f"settings are {len(data)} bytes; at most {layout.SETTINGS_SIZE} fit")
        fields = self._fields
        seq = fields.get("settings_seq") & ~1 & layout.SEQ_MASK   # even, whatever a bad worker wrote there
        fields.set("settings_seq", (seq + 1) & layout.SEQ_MASK)   # odd: being written
        self.mm[layout.SETTINGS_OFFSET:layout.SETTINGS_OFFSET + len(data)] = data
        fields.set("settings_len", len(data))
        fields.set("settings_seq", (seq + 2) & layout.SEQ_MASK)   # even: complete

    def read_settings(self) -> tuple[int, dict] | None:
        """(sequence, settings), or None while a write is in progress or the data is bad."""
        fields = self._fields
        seq = fields.get("settings_seq")
        if seq % 2:
            return None
        length = fields.get("settings_len")
        if length > layout.SETTINGS_SIZE:
            return None
        data = bytes(self.mm[layout.SETTINGS_OFFSET:layout.SETTINGS_OFFSET + length])
        if fields.get("settings_seq") != seq:
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
        layout.validate_geometry(*geometry, self.capacity)
        return geometry

    def output_geometry(self) -> tuple[int, int, int]:
        geometry = self.get("out_width"), self.get("out_height"), self.get("out_stride")
        layout.validate_geometry(*geometry, self.capacity)
        return geometry


class Binding:
    """A second view of a channel's mapping for the render thread: its own header views,
    its own Exchange and the slots' addresses for ctypes copies.

    Holding the exported buffer keeps the mapping alive even after the supervisor closed
    the channel; it is dropped when the render thread moves to a new one.
    """

    def __init__(self, channel: Channel):
        self.channel = channel
        self.mm = channel.mm
        self._anchor = ctypes.c_char.from_buffer(self.mm)
        base = ctypes.addressof(self._anchor)
        self.in_address = base + channel.in_offset
        self.out_address = base + channel.out_offset
        self.capacity = channel.capacity
        self.exchange = Exchange(HeaderFields(self.mm), self.capacity)


def recognise(channel: Channel, token: str, expected_creator: int | None) -> None:
    """Whether `channel` is the one the filter meant for this worker; raises ChannelError.

    The token (16 random bytes, in the header and on our command line) pairs the two on
    every system, across a Flatpak sandbox too, where the filter's pid means nothing to
    us. Where pids are shared, the creator must also be the process that started us
    (`expected_creator`), so no other OBS or stale channel can be wired to us.
    """
    if not token or not secrets.compare_digest(channel.token, token.lower()):
        raise ChannelError("channel's pairing token is not the one we were given")
    if expected_creator is not None and channel.owner_pid() != expected_creator:
        raise ChannelError(f"channel was created by process {channel.owner_pid()}, not by our parent {expected_creator}")
    if os.name == "posix" and channel.path is not None:
        info = os.stat(channel.path, follow_symlinks=False)
        if info.st_uid != os.getuid():
            raise ChannelError("channel file belongs to another user")
        if info.st_mode & 0o077:
            raise ChannelError(f"channel file is accessible to others (mode {info.st_mode & 0o777:o})")
