"""Fuzzing every reader of the shared header: the worker's parser and the filter's renderer.

Bounded (hypothesis deadlines and example counts) so the file runs in well under a
minute in CI. The renderer runs its real code against a real channel mapping with a fake
graphics API that checks every address libobs would be given: a worker writing any
values into any header field must never make the filter read or write outside the
mapping, nor raise out of video_render.
"""

from __future__ import annotations

import ctypes
import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faceswap_core import link
from faceswap_core.link import layout
from faceswap_core.link import Channel, ChannelError
from faceswap_core.obs.render import FrameRenderer

U32, U64 = (1 << 32) - 1, (1 << 64) - 1
REAL_MEMMOVE = ctypes.memmove
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def u32s():
    return st.one_of(st.sampled_from([0, 1, 3, 4, 255, 256, 4095, 4096, 16384, 16385, U32 // 4, U32 // 4 + 1, U32]),
                     st.integers(0, U32))


def u64s():
    return st.one_of(st.sampled_from([0, 1, 2, U64 - 1, U64, 1 << 63, 1 << 32]), st.integers(0, U64))


def field_values():
    """Any value for any header field, the way a broken worker could leave them."""
    strategies = {name: (u64s() if fmt == "Q" else u32s()) for name, (fmt, _) in layout.FIELDS.items() if fmt != "8s"}
    return st.fixed_dictionaries({}, optional=strategies)


# -- the parser: validate_header and Channel.attach ------------------------------------------------
@FUZZ
@given(header=st.binary(min_size=0, max_size=layout.HEADER_SIZE), size=st.integers(0, 1 << 40))
def test_validate_header_raises_only_channel_error(header, size):
    buffer = header.ljust(layout.HEADER_SIZE, b"\x00")
    try:
        layout.validate_header(buffer, size)
    except ChannelError:
        return
    capacity = struct.unpack_from("<Q", buffer, 16)[0]
    assert capacity > 0 and capacity % layout.PAGE == 0
    assert layout.size_for(capacity) <= size < layout.size_for(capacity) + layout.LARGEST_PAGE   # pages rounded up


@FUZZ
@given(values=field_values(), magic_ok=st.booleans(), tail=st.integers(-4096, 4096))
def test_attach_accepts_only_consistent_files(tmp_path_factory, values, magic_ok, tail):
    """A file with a fuzzed header (and a fuzzed length) either attaches consistently or is refused."""
    folder = tmp_path_factory.mktemp("fuzz")
    owner = Channel.create(16, 16, directory=str(folder))
    try:
        for name, value in values.items():
            owner.set(name, value)
        if not magic_ok:
            owner.mm[0:8] = b"NOTOURS\x00"
        size = max(0, layout.size_for(owner.capacity) + tail)
        os.truncate(owner.path, size)
        try:
            attached = Channel.attach(owner.path)
        except ChannelError:
            return
        try:
            described = layout.size_for(attached.capacity)
            assert len(attached.mm) == size and described <= size < described + layout.LARGEST_PAGE
            assert attached.output_offset(layout.OUTPUT_SLOTS - 1) + attached.capacity <= size
            published = attached.read_settings()   # never raises on any settings_len / bytes
            assert published is None or isinstance(published[1], dict)
            for geometry in (attached.input_geometry, attached.output_geometry):
                try:
                    width, height, stride = geometry()
                except ChannelError:
                    continue
                assert stride * height <= attached.capacity and stride >= width * 4
        finally:
            attached.close(unlink=False)
    finally:
        owner.close()   # unmaps without touching the (maybe truncated) pages


# -- the renderer against a fuzzed header ---------------------------------------------------------
class CheckedGraphics:
    """The render-path functions of libobs, as no-ops that check every address they get."""

    def __init__(self, width: int, height: int, channel: Channel):
        self.width, self.height = width, height
        base = ctypes.addressof(ctypes.c_char.from_buffer(channel.mm))
        self.mapping = (base, base + len(channel.mm))
        self.stage = (ctypes.c_uint8 * (width * 4 * height + 64))()
        self.uploads = 0

    def obs_filter_get_target(self, source):
        return 1

    obs_filter_get_parent = obs_filter_get_target

    def obs_source_get_base_width(self, target):
        return self.width

    def obs_source_get_base_height(self, target):
        return self.height

    def gs_texrender_begin(self, *args):
        return True

    def gs_effect_loop(self, *args):
        return False

    def gs_stagesurface_map(self, surface, data_ref, linesize_ref):
        data_ref._obj.value = ctypes.addressof(self.stage)
        linesize_ref._obj.value = self.width * 4 + 16   # padded rows, like a real GPU
        return True

    def gs_texture_set_image(self, texture, address, linesize, flip):
        """libobs reads `height` rows of `linesize` bytes (the last one width*4) from address."""
        start, end = self.mapping
        last = address + linesize * (self.height - 1) + self.width * 4
        assert start <= address and last <= end, f"upload reads [{address - start}, {last - start}) of {end - start}"
        assert linesize >= self.width * 4
        self.uploads += 1

    def __getattr__(self, name):
        return lambda *args: 1   # create/reset/draw/stage: a non-null handle, nothing read


class FakeApi:
    def __init__(self, graphics):
        self.render = graphics
        self.blocking = graphics


class FakeSupervisor:
    def __init__(self, channel):
        self.channel = channel
        self.worker_up = True
        self.grow_requests = 0

    def need_frame_size(self, width, height):
        self.grow_requests += 1


class CopyChecked:
    """Wraps ctypes.memmove for the renderer: every write must land in the input slot."""

    def __init__(self, channel: Channel, mapping):
        self.slot = (mapping[0] + channel.in_offset, mapping[0] + channel.in_offset + channel.capacity)

    def __call__(self, destination, source, count):
        assert self.slot[0] <= destination and destination + count <= self.slot[1], "write outside the input slot"
        return REAL_MEMMOVE(destination, source, count)


@FUZZ
@given(frames=st.lists(field_values(), min_size=1, max_size=6),
       size=st.sampled_from([(64, 48), (48, 64), (63, 47), (1, 1), (128, 128)]))
def test_renderer_never_reads_or_writes_outside_the_mapping(tmp_path_factory, monkeypatch, frames, size):
    width, height = size
    channel = Channel.create(64, 48, directory=str(tmp_path_factory.mktemp("render")))
    try:
        graphics = CheckedGraphics(width, height, channel)
        monkeypatch.setattr("faceswap_core.obs.render.ctypes.memmove", CopyChecked(channel, graphics.mapping))
        renderer = FrameRenderer(FakeApi(graphics))
        supervisor = FakeSupervisor(channel)
        channel.set("worker_state", link.STATE_RUNNING)
        for values in frames:
            for name, value in values.items():   # the worker's garbage, between two frames
                channel.set(name, value)
            if "out_seq" in values and "out_writing" not in values:
                channel.set("out_writing", values["out_seq"])   # mostly: marked as published, so it is read
            if "worker_state" not in values:
                channel.set("worker_state", link.STATE_RUNNING)   # mostly: the path that uploads results
            renderer.render(object(), supervisor)   # raises on any bad address
        if width * height * 4 > channel.capacity:
            assert graphics.uploads == 0, "a result was uploaded from a channel too small for the frame"
        renderer.binding = None
    finally:
        channel.close()


def test_renderer_uploads_a_valid_result_through_the_checked_path(tmp_path, monkeypatch):
    """The fuzz above is not vacuous: a well-formed result does reach gs_texture_set_image."""
    channel = Channel.create(64, 48, directory=str(tmp_path))
    try:
        graphics = CheckedGraphics(64, 48, channel)
        monkeypatch.setattr("faceswap_core.obs.render.ctypes.memmove", CopyChecked(channel, graphics.mapping))
        renderer = FrameRenderer(FakeApi(graphics))
        supervisor = FakeSupervisor(channel)
        channel.set("worker_state", link.STATE_RUNNING)
        renderer.render(object(), supervisor)   # binds, stages the first frame
        renderer.render(object(), supervisor)   # hands it over
        assert channel.get("in_seq") == 1 and channel.get("in_width") == 64
        for name, value in (("out_width", 64), ("out_height", 48), ("out_stride", 256), ("out_writing", 1),
                            ("out_seq", 1)):
            channel.set(name, value)
        channel.set("in_ack", 1)
        channel.set("in_taken", 1)
        renderer.render(object(), supervisor)
        assert graphics.uploads == 1 and renderer.has_result and renderer.draws["result"] == 1
        assert channel.get("out_reading") == 0, "the slot is still pinned after the upload"
        channel.set("out_writing", U64)
        channel.set("out_seq", U64)   # a wrapped or garbage sequence number: a new result, same checks
        renderer.render(object(), supervisor)
        assert graphics.uploads == 2
        renderer.binding = None
    finally:
        channel.close()
