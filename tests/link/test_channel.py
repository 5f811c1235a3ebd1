"""The shared-memory channel: a sealed memfd (Linux) or a private file (the fallback),
validated header, settings hand-over, cleanup."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from faceswap_core import link
from testkit import REPO, pythonpath_env
from faceswap_core.link import layout, memory
from faceswap_core.link import Channel, ChannelError



@pytest.fixture
def channel(tmp_path):
    created = Channel.create(64, 48, directory=str(tmp_path))
    yield created
    created.close()


@pytest.mark.skipif(not memory.memfd_supported(), reason="no memfd sealing here: channels are files")
def test_default_channel_is_a_sealed_memfd_no_other_process_can_resize():
    import fcntl

    channel = Channel.create(64, 48)
    try:
        (fd,) = channel.pass_fds
        assert channel.path is None and channel.address == f"fd:{fd}"
        assert os.readlink(f"/proc/self/fd/{fd}").startswith(f"/memfd:{memory.MEMFD_NAME}")
        ours = f"{memory.FILE_PREFIX}{os.getpid()}-"
        assert [name for name in os.listdir("/dev/shm") if name.startswith(ours)] == [], "a file was made"
        sealed = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
        assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) & sealed == sealed
        size = layout.size_for(channel.capacity)
        attack = subprocess.run([sys.executable, "-m", "testkit.shrink_channel", f"/proc/{os.getpid()}/fd/{fd}"],
                                env=pythonpath_env(os.environ), capture_output=True, text=True, timeout=30)
        assert attack.returncode == 0, attack.stderr
        assert json.loads(attack.stdout) == {"size_before": size, "shrink": "EPERM", "grow": "EPERM",
                                             "size_after": size}
        channel.write_settings({"opacity": 0.5})      # writes still work, to the last byte
        channel.mm[size - 1] = 0xFF
        assert channel.read_settings()[1] == {"opacity": 0.5} and channel.mm[size - 1] == 0xFF
    finally:
        channel.close()


def test_file_is_private_unguessable_and_sized(channel, tmp_path):
    mode = os.stat(channel.path).st_mode
    assert stat.S_IMODE(mode) == 0o600
    name = os.path.basename(channel.path)
    assert name.startswith(f"{memory.FILE_PREFIX}{os.getpid()}-")
    assert len(name.rsplit("-", 1)[1]) == 32   # 128 random bits
    assert os.path.getsize(channel.path) == layout.HEADER_SIZE + (1 + layout.OUTPUT_SLOTS) * channel.capacity
    assert channel.capacity >= 64 * 48 * 4 and channel.capacity % layout.PAGE == 0
    other = Channel.create(64, 48, directory=str(tmp_path))
    assert other.path != channel.path
    other.close()


def test_close_removes_the_file_of_its_owner_only(tmp_path):
    owner = Channel.create(8, 8, directory=str(tmp_path))
    guest = Channel.attach(owner.path)
    guest.close()
    assert os.path.exists(owner.path)
    owner.close()
    assert not os.path.exists(owner.path)
    owner.close()  # idempotent


# Another process writing two fields as fast as it can, never a 0, until its stdin closes.
FIELD_WRITER = """
import sys, threading
from faceswap_core.link import Channel
channel = Channel.attach(sys.argv[1])
closed = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
n = 1
while not closed.is_set():
    channel.set("heartbeat", n)
    channel.set("fps_x100", n & 0xFFFF or 1)
    n += 1
channel.close()
"""
WANTED_VALUES = 1000


def test_the_other_process_never_sees_a_field_half_written(channel):
    """Fields change while the other process reads them (heartbeat, sequence numbers,
    state); a read must see the old value or the new one. struct.pack_into clears a
    field before writing it, and a heartbeat read as 0 got a healthy worker replaced
    in a soak; with it, this reader saw 0 thousands of times a second."""
    writer = subprocess.Popen([sys.executable, "-c", FIELD_WRITER, channel.path], cwd=REPO, stdin=subprocess.PIPE)
    try:
        started = time.monotonic()
        while not channel.get("heartbeat"):
            assert time.monotonic() - started < 30 and writer.poll() is None, "the writer did not start"
        # reads until the writer has been seen writing a thousand values (a busy machine
        # only takes longer)
        reads, zeros, values = 0, 0, set()
        deadline = time.monotonic() + 120.0
        while len(values) <= WANTED_VALUES and time.monotonic() < deadline:
            beat, fps = channel.get("heartbeat"), channel.get("fps_x100")
            zeros += (beat == 0) + (fps == 0)
            values.add(beat)
            reads += 1
        assert writer.poll() is None, "the writer stopped while we read: nothing was tested"
        assert len(values) > WANTED_VALUES, f"only {len(values)} distinct values in {reads} reads: the writer " \
            "was not writing"
        assert zeros == 0, f"{zeros} reads of 0 in {reads}: a field was seen half-written"
    finally:
        writer.communicate(timeout=30)


def test_attach_sees_what_the_owner_wrote(channel):
    channel.set("in_width", 64)
    channel.set("in_height", 48)
    channel.set("in_stride", 256)
    channel.set("in_seq", 7)
    guest = Channel.attach(channel.path)
    assert guest.input_geometry() == (64, 48, 256)
    assert guest.get("in_seq") == 7 and not guest.worker_free()
    assert not guest.exchange.input_free()
    guest.set("in_taken", 7)
    assert channel.exchange.input_free() and not channel.worker_free()
    guest.set("in_ack", 7)
    assert channel.worker_free()
    guest.close()


def _publish(guest, seq_fill: int) -> int:
    """One result from the worker's side, its bytes all `seq_fill`; its slot."""
    slot = guest.exchange.claim_output(0.05)
    assert slot is not None
    offset = guest.output_offset(slot)
    guest.mm[offset:offset + 16] = bytes([seq_fill]) * 16
    guest.exchange.publish_result(link.Frame(seq_fill, 2, 2, 8, seq_fill), 8, 1, 0)
    return slot


def test_results_alternate_slots_and_a_pinned_slot_is_never_written(channel):
    """Up to two frames in flight: a result may come while OBS copies the previous one
    out. It goes to the other slot; the one OBS copies from is not written until OBS is
    done (the worker drops a result rather than tear one OBS holds too long)."""
    guest = Channel.attach(channel.path)
    try:
        assert _publish(guest, 1) == 0
        with channel.exchange.newest_result(0) as first:
            assert first.seq == 1 and first.slot == 0 and channel.get("out_reading") == 1
            assert _publish(guest, 2) == 1                     # the other slot: free
            started = time.monotonic()
            assert guest.exchange.claim_output(0.05) is None   # result 3 would go to slot 0, still pinned
            assert time.monotonic() - started >= 0.05
            offset = channel.output_offset(first.slot)
            assert bytes(channel.mm[offset:offset + 16]) == bytes([1]) * 16
        assert channel.get("out_reading") == 0
        assert guest.exchange.claim_output(0.05) == 0         # free again once OBS is done
        with channel.exchange.newest_result(1) as second:
            assert (second.seq, second.slot, second.time_ns) == (2, 1, 2)
    finally:
        guest.close(unlink=False)


def test_a_result_whose_fields_are_being_replaced_is_not_read(channel):
    """The result fields are one set for both slots: while the worker writes the next
    result's, OBS does not take the newest result's number with them."""
    guest = Channel.attach(channel.path)
    try:
        _publish(guest, 1)
        guest.set("out_writing", 2)      # the worker has begun publishing result 2
        guest.set("out_in_time_ns", 2)
        with channel.exchange.newest_result(0) as result:
            assert result is None
        assert channel.get("out_reading") == 0
        guest.set("out_seq", 2)           # ... and finished
        with channel.exchange.newest_result(0) as result:
            assert (result.seq, result.time_ns) == (2, 2)
    finally:
        guest.close(unlink=False)


WANTED_READS = 200


def test_results_are_never_torn_by_a_racing_worker(tmp_path):
    """Another process publishes results as fast as it can while this one copies the
    newest out, as the filter does: every copy is one whole result with its own fields."""
    width, height = 640, 480
    channel = Channel.create(width, height, directory=str(tmp_path))
    channel.set("in_width", width)
    channel.set("in_height", height)
    size = width * height * 4
    writer = subprocess.Popen([sys.executable, "-m", "testkit.result_writer", channel.path, "300"], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=pythonpath_env(dict(os.environ)))
    try:
        started = time.monotonic()
        while not channel.get("out_seq"):
            assert time.monotonic() - started < 30 and writer.poll() is None, "the writer did not start"
        # until enough reads raced enough publishing (a result replaced while we looked:
        # the newest seq jumped past the next); a busy machine only takes longer
        seen, reads, torn, mixed, jumps = 0, 0, 0, 0, 0
        deadline = time.monotonic() + 120.0
        while (reads < WANTED_READS or jumps < WANTED_READS // 2) and time.monotonic() < deadline:
            with channel.exchange.newest_result(seen) as result:
                if result is None:
                    continue
                offset = channel.output_offset(result.slot)
                copy = bytes(channel.mm[offset:offset + size])
            jumps += result.seq > seen + 1
            seen = result.seq
            reads += 1
            torn += copy.count(bytes([result.seq % 251])) != size
            mixed += result.time_ns != result.seq
        assert writer.poll() is None, "the writer stopped while we read: nothing was tested"
        counts = json.loads(writer.communicate(timeout=30)[0])    # stdin closed: the writer stops
    finally:
        if writer.poll() is None:
            writer.kill()
        channel.close()
    assert reads >= WANTED_READS and jumps >= WANTED_READS // 2, f"too little overlap to test: {reads} reads, " \
        f"{jumps} past a replaced result, {counts}"
    assert torn == 0 and mixed == 0, f"{torn} torn and {mixed} mixed copies in {reads}"
    assert counts["dropped"] == 0, "the writer gave up a slot although this reader is quick"


def test_settings_round_trip_and_sequence(channel):
    assert channel.read_settings() == (0, {})
    channel.write_settings({"opacity": 0.5, "source_photo": "/tmp/ünï.png"})
    seq, settings = channel.read_settings()
    assert seq == 2 and settings == {"opacity": 0.5, "source_photo": "/tmp/ünï.png"}
    # the worker asks between frames, every few milliseconds: settings it has are not read again
    assert channel.read_settings(since=2) is None
    channel.write_settings({"opacity": 0.25})
    assert channel.read_settings(since=2) == (4, {"opacity": 0.25})
    channel.mm[layout.SETTINGS_OFFSET:layout.SETTINGS_OFFSET + 17] = b'{"opacity": 0.75}'   # same length, same sequence
    assert channel.read_settings(since=4) is None, "the bytes were parsed although the sequence said nothing changed"
    assert channel.read_settings() == (4, {"opacity": 0.75})
    channel.set("settings_seq", 5)          # a write in progress
    assert channel.read_settings() is None
    with pytest.raises(ValueError):
        channel.write_settings({"x": "y" * layout.SETTINGS_SIZE})


def test_error_text_is_bounded(channel):
    channel.set_error("x" * 1000)
    assert channel.error() == "x" * (layout.ERROR_SIZE - 1)
    channel.set_error("Choose a photo.")
    assert channel.error() == "Choose a photo."


def test_note_is_bounded_and_apart_from_error_and_settings(channel):
    channel.write_settings({"source_photo": "/tmp/a.jpg"})
    channel.set_error("e" * 1000)
    channel.set_note("n" * 1000)
    assert channel.note() == "n" * (layout.NOTE_SIZE - 1)
    assert channel.error() == "e" * (layout.ERROR_SIZE - 1)
    assert channel.read_settings()[1] == {"source_photo": "/tmp/a.jpg"}
    channel.set_note("")
    assert channel.note() == "" and channel.error() == "e" * (layout.ERROR_SIZE - 1)


@pytest.mark.parametrize("offset, data, message", [
    (0, b"NOTOURS\x00", "magic"),
    (8, (99).to_bytes(4, "little"), "version"),
    (12, (123).to_bytes(4, "little"), "header size"),
    (16, (4097).to_bytes(8, "little"), "capacity"),
    (16, (layout.PAGE * 1000).to_bytes(8, "little"), "bytes"),
    (136, (layout.SETTINGS_SIZE + 1).to_bytes(4, "little"), "settings length"),
])
def test_attach_rejects_a_bad_header(channel, offset, data, message):
    channel.mm[offset:offset + len(data)] = data
    with pytest.raises(ChannelError, match=message):
        Channel.attach(channel.path)


def test_attach_rejects_short_and_missing_files(tmp_path):
    short = tmp_path / "short"
    short.write_bytes(b"\x00" * 100)
    with pytest.raises(ChannelError, match="smaller"):
        Channel.attach(str(short))
    with pytest.raises(ChannelError, match="cannot open"):
        Channel.attach(str(tmp_path / "absent"))


@pytest.mark.parametrize("geometry", [(0, 10, 40), (10, 0, 40), (10, 10, 39), (10, 10, 42), (64, 49, 256), (layout.MAX_SIDE + 1, 1, 4 * layout.MAX_SIDE + 4)])
def test_bad_frame_geometry_is_rejected(channel, geometry):
    for name, value in zip(("in_width", "in_height", "in_stride"), geometry):
        channel.set(name, value)
    with pytest.raises(ChannelError):
        channel.input_geometry()


def test_stale_files_are_those_of_dead_owners(tmp_path):
    live = Channel.create(8, 8, directory=str(tmp_path))
    dead = tmp_path / f"{memory.FILE_PREFIX}999999999-{'0' * 32}"
    dead.write_bytes(b"")
    (tmp_path / "unrelated").write_bytes(b"")
    assert link.stale_channel_files([str(tmp_path)]) == [str(dead)]
    live.close()


# -- memory order on ARM: what each side stores before what -------------------------------------
class RecordingFields:
    """The header's fields, with every load, store and fence written to `log` in order.
    x86 keeps stores in order by itself, so ARM's reordering cannot be seen here: the order
    the code asks for is checked instead (a fence between two stores is what ARM needs)."""

    def __init__(self, fields, log: list):
        self.fields, self.log = fields, log

    def get(self, name):
        self.log.append(f"get {name}")
        return self.fields.get(name)

    def set(self, name, value):
        self.log.append(f"set {name}")
        self.fields.set(name, value)

    def set_floats(self, offset, values):
        self.log.append("set matrix")
        self.fields.set_floats(offset, values)

    def get_floats(self, offset, count):
        return self.fields.get_floats(offset, count)


def _stores(log: list) -> list:
    return [entry for entry in log if not entry.startswith("get ")]


def test_a_frame_and_all_its_fields_are_fenced_before_its_number(tmp_path):
    """hand_over wrote the geometry, format and time after its only fence: on ARM the
    worker could see the new in_seq with the last frame's geometry."""
    from faceswap_core.link.channel import Exchange

    owner = Channel.create(64, 48, directory=str(tmp_path))
    log: list = []
    exchange = Exchange(RecordingFields(owner._fields, log), owner.capacity)
    exchange._fence = lambda: log.append("fence")
    try:
        exchange.hand_over(64, 48, 256, 1234, matrix=[0.0] * 12)
        stores = _stores(log)
        assert stores[-2:] == ["fence", "set in_seq"], stores
        assert {"set in_width", "set in_height", "set in_format", "set in_time_ns", "set matrix"} <= set(stores[:-2])
        log.clear()
        with exchange.newest_result(0):
            log.append("copy")
        after_copy = _stores(log)[_stores(log).index("copy"):]
        assert after_copy[-2:] == ["fence", "set out_reading"], "the pin was let go before the copy's reads were done"
    finally:
        owner.close()


def test_settings_are_fenced_like_a_seqlock(tmp_path, monkeypatch):
    """The settings had no fence: on ARM the worker could read the new length or bytes with
    the old even number, and keep half-written settings."""
    from faceswap_core.link import channel as channel_module

    owner = Channel.create(64, 48, directory=str(tmp_path))
    log: list = []

    class LoggedFence:
        def __call__(self):
            log.append("fence")

    monkeypatch.setattr(channel_module, "Fence", LoggedFence)
    owner._fields = RecordingFields(owner._fields, log)
    try:
        owner.write_settings({"opacity": 0.5})
        assert _stores(log) == ["set settings_seq", "fence", "set settings_len", "fence", "set settings_seq"], log
        log.clear()
        assert owner.read_settings()[1] == {"opacity": 0.5}
        assert log == ["get settings_seq", "fence", "get settings_len", "fence", "get settings_seq"], log
    finally:
        owner._fields = owner._fields.fields
        owner.close()
