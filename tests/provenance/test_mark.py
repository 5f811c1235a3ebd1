"""The invisible mark on real frames: exact when nothing is lost, invisible by the numbers,
never read from pictures that do not carry it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap_core.provenance import mark
from faceswap_core.provenance.stamp import OutputStamp
from testkit.encodes import psnr
from testkit.judge import media, read_frames

SESSION = bytes([0x5A, 0xC3, 0x17])
READER = mark.MarkReader()


@pytest.fixture(scope="module")
def frames_720p():
    """Talking heads scaled to 720p: skin, hair, shading and edges, the mark's hardest case."""
    clips = [read_frames(media(name), 12) for name in ("lp_d12.mp4", "lp_d3.mp4", "lp_d18.mp4")]
    return [cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_CUBIC) for clip in clips for frame in clip]


def test_every_lossless_frame_reads_exactly(frames_720p):
    marker = mark.Marker(SESSION)
    for frame in frames_720p:
        reading = mark.decode(READER.votes(marker.embed(frame)))
        assert reading is not None and reading.session_id == SESSION
        assert reading.corrected_bytes == 0


def test_invisible_by_the_numbers(frames_720p):
    for strength in (2, mark.DEFAULT_STRENGTH, 5):
        marker = mark.Marker(SESSION, strength)
        for frame in frames_720p[::6]:
            marked = marker.embed(frame)
            change = marked.astype(int) - frame.astype(int)
            assert np.abs(change).max() <= strength
            # brightness only: the same change in B, G and R wherever no channel hit 0 or 255
            room = ((frame >= strength) & (frame <= 255 - strength)).all(axis=2)
            assert (change[room] == change[room][:, :1]).all()
            if strength == mark.DEFAULT_STRENGTH:
                assert psnr(frame, marked) >= 45.0


def test_never_read_from_unmarked_frames_or_noise(frames_720p):
    for frame in frames_720p:
        assert mark.read_picture(frame)[0] is None
    rng = np.random.default_rng(3)
    for _ in range(20):
        assert mark.read_picture(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8))[0] is None
    # votes that are pure noise: Reed-Solomon, the version byte and the agreement check hold
    assert not any(mark.decode(rng.normal(size=mark.BITS) * 3) for _ in range(5000))


def test_another_session_reads_as_itself(frames_720p):
    other = bytes([1, 2, 3])
    reading = mark.decode(READER.votes(mark.Marker(other).embed(frames_720p[0])))
    assert reading.session_id == other


def test_mirrored_scaled_and_range_squeezed_copies_read(frames_720p):
    marked = mark.Marker(SESSION).embed(frames_720p[5])
    mirrored = marked[:, ::-1].copy()
    reading, was_mirrored = mark.read_picture(mirrored)
    assert reading.session_id == SESSION and was_mirrored
    small = cv2.resize(marked, (640, 360), interpolation=cv2.INTER_AREA)
    assert mark.read_picture(small)[0].session_id == SESSION
    # a full-range picture shown as limited range: 16 + 219/255 of every value
    squeezed = np.rint(16 + marked.astype(np.float32) * 219 / 255).astype(np.uint8)
    assert mark.read_picture(squeezed)[0].session_id == SESSION


@pytest.mark.parametrize("scale,at,mirrored", [(0.45, (410, 95), False), (0.7, (-40, 300), True),
                                               (0.9375, (-120, -67), False)])
def test_the_grid_is_found_where_the_picture_lies(frames_720p, scale, at, mirrored):
    """A marked 720p frame shrunk into, or cropped by, a 960x960 canvas of another frame
    (lossless; the last one 1.25 times the canvas's width, a 10% crop a side): mark_grid finds the cell size and the corner to within a fifth of a cell,
    and the session decodes; the same canvas without the mark finds nothing."""
    from faceswap_core.provenance import mark_grid

    marked = mark.Marker(SESSION).embed(frames_720p[3])
    if mirrored:
        marked = marked[:, ::-1].copy()
    canvas = cv2.resize(frames_720p[20], (960, 960), interpolation=cv2.INTER_AREA)
    for picture, expect in ((marked, True), (frames_720p[3], False)):
        shown = cv2.resize(picture, (round(1280 * scale), round(720 * scale)), interpolation=cv2.INTER_AREA)
        layer = canvas.copy()
        x, y = at
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + shown.shape[1], 960), min(y + shown.shape[0], 960)
        layer[y0:y1, x0:x1] = shown[y0 - y:y1 - y, x0 - x:x1 - x]
        reading, was_mirrored, place = mark_grid.read_placed(mark.luma(layer))
        if not expect:
            assert reading is None
            continue
        assert reading is not None and reading.session_id == SESSION and was_mirrored == mirrored
        cell = 1280 * scale / mark.COLUMNS
        assert abs(place.cell_w - cell) < 0.01 * cell and abs(place.cell_h - cell) < 0.01 * cell, place
        assert abs(place.x0 - x) < 0.2 * cell and abs(place.y0 - y) < 0.2 * cell, place


def test_busy_cells_count_less_and_cells_outside_the_frame_not_at_all(frames_720p):
    """The weights (mark.cell_weights): a marked frame whose left half carries the same
    busy detail on every frame (noise standing in for fairy lights or leaves) weighs its
    left cells a fraction of its right ones; a scaled copy weighs its cells alike; a placed
    picture's cells past the frame's edge (a crop) weigh nothing, the edge's cell its share."""
    from faceswap_core.provenance import mark_grid

    marked = mark.Marker(SESSION).embed(frames_720p[4])
    y = mark.luma(marked)
    weights = mark.cell_weights(y)
    assert weights.shape == (mark.ROWS, mark.COLUMNS)
    smaller = mark.cell_weights(cv2.resize(y, (640, 360), interpolation=cv2.INTER_AREA))
    assert np.median(np.abs(np.log(smaller / weights))) < 0.1
    busy = marked.astype(np.float32)
    spots = np.random.default_rng(5).normal(0, 12, (144, 128)).astype(np.float32)   # 5-pixel spots
    busy[:, :640] += cv2.resize(spots, (640, 720), interpolation=cv2.INTER_NEAREST)[:, :, None]
    weights = mark.cell_weights(mark.luma(np.clip(busy, 0, 255).astype(np.uint8)))
    assert np.median(weights[:, :32]) < 0.2 * np.median(weights[:, 32:])
    cell = 20.0
    inside = mark_grid.Placement(-3.5 * cell, 0.0, cell, cell).inside((720, 1180))
    assert (inside[:, :3] == 0).all() and np.allclose(inside[:, 3], 0.5) and (inside[:, 4:62] == 1).all()
    assert (inside[:, 62] == 0.5).all() and (inside[:, 63] == 0).all()


def test_bgra_keeps_alpha_and_luma_plane_matches_bgr(frames_720p):
    marker = mark.Marker(SESSION)
    bgra = cv2.cvtColor(frames_720p[2], cv2.COLOR_BGR2BGRA)
    bgra[..., 3] = 77
    marked = marker.embed(bgra.copy())
    assert (marked[..., 3] == 77).all()
    assert mark.read_picture(marked[..., :3].copy())[0].session_id == SESSION
    luma = cv2.cvtColor(frames_720p[2], cv2.COLOR_BGR2GRAY)
    assert mark.decode(READER.votes(marker.embed(luma))).session_id == SESSION


def test_output_stamp_label_then_mark(frames_720p):
    frame = frames_720p[0].copy()
    stamp = OutputStamp({"label": True, "label_corner": "top-left", "label_size": 0.05}, SESSION)
    out = stamp.apply(frame.copy())
    changed = np.abs(out.astype(int) - frame.astype(int)).max(axis=2) > 20
    ys, xs = np.nonzero(changed)
    # the label sits in the top-left corner, as tall as chosen (with its box's padding)
    assert xs.max() < 1280 * 0.35 and ys.max() < 720 * 0.15 and ys.min() > 0
    assert mark.read_picture(out)[0].session_id == SESSION      # the mark covers the label too
    assert "marked (session 5ac317" in stamp.describe() and "labelled 'AI face swap'" in stamp.describe()
    stamp.set_values({"mark": False, "label": False})
    assert np.array_equal(stamp.apply(frame.copy()), frame)
    assert stamp.describe() == ""


def test_the_layout_is_frozen_and_shared_with_the_obs_shader():
    """The key is a file format: marks already streamed must stay readable, so a change to
    how the cells are dealt out must fail here (the digest is of the key tables as first
    released). And the cells OBS's shader draws from (mark_layout.cell_signs) are the ones
    numpy's Marker draws: at each cell's quarter point sin*sin is 1, so the change there
    has the cell's sign."""
    import hashlib

    from faceswap_core.provenance import mark_layout

    owner, sign = mark_layout.key_tables()
    digest = hashlib.sha256(bytes(owner) + bytes(value > 0 for value in sign)).hexdigest()
    assert digest == "c6c30b18e05deee432ae51b474e113054835ec3c847b89829d116fa4efaab5af"
    assert sorted(owner.count(bit) for bit in range(mark_layout.BITS)) == [36] * 64
    width, height = 1280, 720
    change = mark.Marker(SESSION).change(width, height)
    quarter = change[(np.arange(mark.ROWS) * height // mark.ROWS + height // (4 * mark.ROWS))][
        :, np.arange(mark.COLUMNS) * width // mark.COLUMNS + width // (4 * mark.COLUMNS)]
    assert (np.sign(quarter).ravel() == np.array(mark_layout.cell_signs(SESSION))).all()
