"""A frame's colour channels out of BGRA and back (faceswap_core.bgra): the same bytes as
numpy's channel slicing, on the layouts frames come in (a region of a frame with padded
lines, in shared memory), the fourth channel kept."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from faceswap_core.bgra import bgr_copy, put_bgr


def _frame(buffer, height: int, width: int, stride: int, offset: int = 64) -> np.ndarray:
    """A BGRA frame whose lines are `stride` bytes apart, over a buffer (as the channel's)."""
    return np.ndarray((height, width, 4), np.uint8, buffer, offset, (stride, 4, 1))


@pytest.fixture
def frame():
    memory = mmap.mmap(-1, 64 + 120 * 330 * 4)
    pixels = _frame(memory, 120, 300, 330 * 4)   # 30 pixels of padding at each line's end
    pixels[...] = np.random.default_rng(3).integers(0, 256, pixels.shape, dtype=np.uint8)
    yield pixels
    del pixels
    memory.close()


def test_bgr_copy_is_numpys_slice_contiguous(frame):
    region = frame[10:90, 40:250]
    copied = bgr_copy(region)
    assert copied.flags.c_contiguous and copied.shape == (80, 210, 3)
    assert np.array_equal(copied, region[:, :, :3])
    bgr = np.ascontiguousarray(frame[:, :, :3])
    assert bgr_copy(bgr) is bgr                                   # nothing to copy
    assert np.array_equal(bgr_copy(bgr[5:50, 7:70]), bgr[5:50, 7:70])


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0)], ids=["BGRA", "RGBA"])
@pytest.mark.parametrize("source_channels", [3, 4])
def test_put_bgr_writes_three_channels_where_they_lie(frame, order, source_channels):
    """Into a region of a padded frame over shared memory: its B, G, R (or R, G, B) bytes
    are the source's, its alpha and every byte outside it what they were."""
    before = frame.copy()
    pixels = np.random.default_rng(4).integers(0, 256, (60, 100, source_channels), dtype=np.uint8)
    put_bgr(frame[20:80, 150:250], pixels, order)
    expected = before.copy()
    for index, channel in enumerate(order):
        expected[20:80, 150:250, channel] = pixels[:, :, index]
    assert np.array_equal(frame, expected)
    assert np.array_equal(frame[:, :, 3], before[:, :, 3])


def test_put_bgr_into_regions_opencv_cannot_see_as_an_image():
    """A region whose pixels are not side by side (every other column) or whose lines run
    upwards is written through numpy: still in place, still only three channels."""
    rng = np.random.default_rng(5)
    for region_of in (lambda image: image[:, ::2], lambda image: image[::-1]):
        image = rng.integers(0, 256, (40, 60, 4), dtype=np.uint8)
        expected = image.copy()
        region = region_of(image)
        pixels = rng.integers(0, 256, region.shape[:2] + (3,), dtype=np.uint8)
        put_bgr(region, pixels)
        region_of(expected)[:, :, :3] = pixels
        assert np.array_equal(image, expected)


def test_put_bgr_into_a_bgr_frame():
    image = np.zeros((30, 40, 3), np.uint8)
    pixels = np.full((10, 20, 4), 9, np.uint8)
    put_bgr(image[5:15, 10:30], pixels)
    assert (image[5:15, 10:30] == 9).all() and image.sum() == 9 * 10 * 20 * 3
