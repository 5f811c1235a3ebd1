"""One channel between one filter instance and its worker, and the frame handshake.

Each direction has exactly one writer, so no lock is needed: a writer fills the pixels
and the geometry first and bumps the sequence number last; the reader looks at the
sequence number first. Every field is naturally aligned and read and written with one
load or store (HeaderFields), so the other side never sees half a value. On ARM plain
stores are not ordered between processes, so a barrier stands between a frame's bytes
and its sequence number on both sides (Exchange._fence).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import threading
import time
from typing import NamedTuple

from . import layout
from . import memory
from . import pixel_formats
from . import system as systems
from .layout import HEADER_SIZE, ChannelError, HeaderFields


READ_TRIES = 3          # OBS's tries to pin the newest result while the worker publishes more
OUTPUT_WAIT_S = 0.1     # the worker's wait for OBS to finish copying out of the slot it needs


class Frame(NamedTuple):
    """A frame in a slot: its sequence number, geometry and the OBS-side time it was taken;
    its pixel format and every plane's line size (plane 0's is `stride`); for a result,
    which output slot holds it."""
    seq: int
    width: int
    height: int
    stride: int
    time_ns: int
    format: int = pixel_formats.BGRA
    strides: tuple = ()
    slot: int = 0

    def plane_strides(self) -> tuple:
        return self.strides or (self.stride,)


class Fence:
    """A full memory barrier for the one thread that owns it: releasing a lock then
    acquiring it, the cheapest one the standard library offers (release orders what came
    before, acquire what follows). x86 needs one only where a store is followed by a load
    of another field (the output pin); Apple Silicon and other ARM machines need one
    wherever the other process must see one store before another."""

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()

    def __call__(self) -> None:
        self._lock.release()
        self._lock.acquire()


class Exchange:
    """The frame handshake, written once for both ends, over one mapping's header.

    OBS's render thread: input_free, hand_over, newest_result.
    The worker's main loop: take_frame, let_go, skip_frame, claim_output, publish_result.
    An Exchange belongs to one thread; the render thread has its own over its own
    mapping of the same memory (the supervisor may close the channel under it).

    Results may be published while OBS copies an earlier one out (up to two frames in
    flight): OBS pins the slot it copies from (out_reading) and checks, after pinning,
    that its result is still the newest; the worker checks the pin before it writes a
    slot. Both sides store, fence, then load, so one of them always sees the other.
    A result's header fields are one set for both slots: the worker marks which result
    they describe (out_writing) before it writes them, and OBS keeps what it read only
    if that mark still names the result it pinned.
    """

    def __init__(self, fields: HeaderFields, capacity: int):
        self.fields = fields
        self.capacity = capacity
        self._fence = Fence()

    # -- both ends ------------------------------------------------------------------
    def state(self) -> int:
        return self.fields.get("worker_state")

    def worker_free(self) -> bool:
        """Nothing in flight: every frame handed over is answered (or skipped)."""
        return self.fields.get("in_ack") == self.fields.get("in_seq")

    def input_free(self) -> bool:
        """The worker holds its own copy of the last frame handed over (or is done with
        it): the input slot may take the next one."""
        return self.fields.get("in_taken") == self.fields.get("in_seq")

    # -- OBS side -----------------------------------------------------------------------
    def hand_over(self, width: int, height: int, stride: int, time_ns: int,
                  format_: int = pixel_formats.BGRA, strides: tuple = (), matrix=None) -> None:
        """The input slot holds a new frame (its bytes written before this call, and
        only while input_free()).

        `strides`: every plane's line size for formats with several planes; `matrix`:
        the first 12 values of OBS's YUV -> RGB colour matrix for YUV formats."""
        fields = self.fields
        fields.set("in_width", width)
        fields.set("in_height", height)
        fields.set("in_format", format_)
        for name, value in zip(layout.STRIDE_FIELDS["in"], strides or (stride,)):
            fields.set(name, value)
        if matrix is not None:
            fields.set_floats(layout.MATRIX_OFFSET, matrix[:12])
        fields.set("in_time_ns", time_ns)
        self._fence()                  # the frame's bytes and every field above, before its number
        fields.set("in_seq", (fields.get("in_seq") + 1) & layout.SEQ_MASK)

    def colour_matrix(self) -> tuple:
        """The 3x4 YUV -> RGB matrix of the frame in flight, row by row (12 floats)."""
        return self.fields.get_floats(layout.MATRIX_OFFSET, 12)

    def result_seq(self) -> int:
        return self.fields.get("out_seq")

    @contextlib.contextmanager
    def newest_result(self, seen_seq: int):
        """The newest result if its sequence number is not `seen_seq`, else None; its slot
        (Frame.slot) stays the worker's to leave alone until the block ends, so copy it out
        inside the block.

        Its geometry is checked against the slot: a result that does not fit comes back
        with width 0 (seen, never to be read)."""
        try:
            yield self._pin_result(seen_seq)
        finally:
            self._fence()              # the copy's reads are done before the worker may write the slot
            self.fields.set("out_reading", 0)

    def _pin_result(self, seen_seq: int) -> Frame | None:
        """The newest result with its slot pinned (out_reading), or None; the pin may stay
        set either way until newest_result clears it."""
        fields = self.fields
        for _ in range(READ_TRIES):
            seq = fields.get("out_seq")
            if seq == seen_seq:
                return None
            slot = layout.output_slot(seq)
            fields.set("out_reading", slot + 1)
            self._fence()
            if fields.get("out_seq") != seq:
                continue               # a newer one came meanwhile: pin that instead
            frame = self._frame("out", seq, fields.get("out_in_time_ns"))._replace(slot=slot)
            self._fence()
            if fields.get("out_writing") != seq:
                continue               # its fields were being replaced by the next result's
            if layout.frame_problem(frame.format, frame.width, frame.height, frame.plane_strides(),
                                    self.capacity):
                return Frame(seq, 0, 0, 0, 0, slot=slot)
            return frame
        return None                    # the worker outpaces us right now; the next call tries again

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
        if seq == fields.get("in_taken"):
            return None
        self._fence()
        frame = self._frame("in", seq, fields.get("in_time_ns"))
        problem = layout.frame_problem(frame.format, frame.width, frame.height, frame.plane_strides(), self.capacity)
        if problem:
            raise ChannelError(problem)
        return frame

    def let_go(self, frame: Frame) -> None:
        """The worker has its own copy of `frame`: OBS may hand over the next one while this
        one is still being answered."""
        self._fence()                  # our reads of the slot are done before OBS may overwrite it
        self.fields.set("in_taken", frame.seq)

    def skip_frame(self) -> None:
        """Done with whatever is in flight without answering it: OBS may hand over the next."""
        seq = self.fields.get("in_seq")
        self.fields.set("in_taken", seq)
        self.fields.set("in_ack", seq)

    def claim_output(self, wait_s: float = OUTPUT_WAIT_S) -> int | None:
        """The output slot the next result goes to, once OBS is not copying out of it; None
        when OBS kept it pinned for `wait_s` (its render thread is stuck: the result is
        dropped rather than torn)."""
        fields = self.fields
        slot = layout.output_slot(fields.get("out_seq") + 1)
        deadline = time.monotonic() + wait_s
        while True:
            self._fence()
            if fields.get("out_reading") != slot + 1:
                return slot
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.0005)

    def publish_result(self, frame: Frame, stride: int, faces: int, process_us: int, let_go: bool = True) -> None:
        """The claimed output slot holds the answer to `frame` (bytes written before this
        call): BGRA with `stride` for a BGRA frame, else the frame's own format and line
        sizes. `let_go`: the input slot is also free now (not let go of before)."""
        fields = self.fields
        seq = (fields.get("out_seq") + 1) & layout.SEQ_MASK
        fields.set("out_writing", seq)
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
        self._fence()
        fields.set("out_seq", seq)
        self.answered(frame, let_go)

    def answered(self, frame: Frame, let_go: bool = True) -> None:
        """Done with `frame` (its result published, or dropped): last, as OBS may hand over
        the next frame now."""
        if let_go:
            self.fields.set("in_taken", frame.seq)
        self.fields.set("in_ack", frame.seq)


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

    def output_offset(self, slot: int) -> int:
        return layout.output_offset(slot, self.capacity)

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
        self._fields.set("out_writing", self._fields.get("out_seq"))
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
        fields, fence = self._fields, Fence()   # a fence of this call's own: OBS writes from two threads
        seq = fields.get("settings_seq") & ~1 & layout.SEQ_MASK   # even, whatever a bad worker wrote there
        fields.set("settings_seq", (seq + 1) & layout.SEQ_MASK)   # odd: being written
        fence()                        # seen as being written before any byte changes
        self.mm[layout.SETTINGS_OFFSET:layout.SETTINGS_OFFSET + len(data)] = data
        fields.set("settings_len", len(data))
        fence()                        # every byte before the number that says they are complete
        fields.set("settings_seq", (seq + 2) & layout.SEQ_MASK)   # even: complete

    def read_settings(self, since: int | None = None) -> tuple[int, dict] | None:
        """(sequence, settings), or None while a write is in progress, when the data is bad,
        or when the settings are still those of sequence `since` (the worker asks between
        frames, every few milliseconds: a field's read, not the settings' JSON, then)."""
        fields, fence = self._fields, Fence()
        seq = fields.get("settings_seq")
        if seq % 2 or seq == since:
            return None
        fence()                        # the bytes are read after the number that vouches for them
        length = fields.get("settings_len")
        if length > layout.SETTINGS_SIZE:
            return None
        data = bytes(self.mm[layout.SETTINGS_OFFSET:layout.SETTINGS_OFFSET + length])
        fence()                        # and before the number is read again
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

    def newest_output_offset(self) -> int:
        """Where the newest result is (for callers that read it while no result is being
        published, as tests do)."""
        return self.output_offset(layout.output_slot(self.get("out_seq")))


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
        self.out_addresses = tuple(base + channel.output_offset(slot) for slot in range(layout.OUTPUT_SLOTS))
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
