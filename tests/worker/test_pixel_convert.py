"""The camera path's conversions (faceswap_core.worker.pixel_convert) on a real photo.

Frames are built here from a photo with the BT.601 limited-range equations written out
(the standard's coefficients, not the module's code), in every format the channel carries;
OpenCV's own I420 decoder is the second, independent reference.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap_core.worker import pixel_convert
from faceswap_core.link import pixel_formats as pf
from testkit.judge import media

# YUV (0..1) -> RGB rows as OBS gives them (video_format_get_parameters, BT.601, limited range)
KY, KRV, KGU, KGV, KBU = 255 / 219, 1.402 * 255 / 224, -0.344136 * 255 / 224, -0.714136 * 255 / 224, 1.772 * 255 / 224
MATRIX_601 = (KY, 0.0, KRV, -KY * 16 / 255 - KRV * 128 / 255,
              KY, KGU, KGV, -KY * 16 / 255 - (KGU + KGV) * 128 / 255,
              KY, KBU, 0.0, -KY * 16 / 255 - KBU * 128 / 255)


def photo(width=161, height=121) -> np.ndarray:
    """An odd-sized crop of a real photo (odd sizes: the half-size chroma rounds up)."""
    image = cv2.imread(str(media("fr_obama.jpg")))
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


def encode(bgr: np.ndarray, format_: int) -> tuple[bytearray, tuple]:
    """The photo as one frame in `format_`, planes one after another, each row padded
    by 32 bytes (line sizes wider than a row, as libobs's frames often are)."""
    height, width = bgr.shape[:2]
    b, g, r = (bgr[:, :, index].astype(np.float64) for index in range(3))
    y = 16 + (0.299 * r + 0.587 * g + 0.114 * b) * 219 / 255
    u = 128 + (b - (0.299 * r + 0.587 * g + 0.114 * b)) / 1.772 * 224 / 255
    v = 128 + (r - (0.299 * r + 0.587 * g + 0.114 * b)) / 1.402 * 224 / 255
    sx, sy = pixel_convert.SUBSAMPLING.get(format_, (1, 1))
    half = (-(-width // sx), -(-height // sy))

    def sub(plane):
        return np.clip(np.round(cv2.resize(plane, half, interpolation=cv2.INTER_AREA)), 0, 255).astype(np.uint8)

    y8 = np.clip(np.round(y), 0, 255).astype(np.uint8)
    u8, v8 = sub(u), sub(v)
    layout = pf.planes(format_, width, height)
    strides = tuple(plane.row_bytes + 32 for plane in layout)
    buffer = bytearray(pf.frame_bytes(format_, width, height, strides))
    planes = pixel_convert.plane_views(buffer, 0, format_, width, height, strides)
    if format_ in pixel_convert.RGB_FORMATS:
        channels = 3 if format_ == pf.BGR3 else 4
        pixels = planes[0].reshape(height, width, channels)
        for index, channel in enumerate(pixel_convert.RGB_FORMATS[format_]):
            pixels[:, :, channel] = bgr[:, :, index]
        if channels == 4:
            pixels[:, :, 3] = 255
        return buffer, strides
    pack(planes, format_, y8, u8, v8)
    if len(planes) == 4:
        planes[3][...] = 200     # alpha: must come back as it was
    return buffer, strides


def pack(planes, format_, y8, u8, v8) -> None:
    """Each format's byte order written out from its definition (libobs/media-io/video-io.h
    and the FOURCC codes), independently of the module's views."""
    height, width = y8.shape
    if format_ in (pf.YUY2, pf.YVYU, pf.UYVY):
        row = planes[0].reshape(height, -1, 4)        # one 4-byte group per two pixels
        padded = np.zeros((height, row.shape[1] * 2), np.uint8)
        padded[:, :width] = y8
        order = {pf.YUY2: (padded[:, 0::2], u8, padded[:, 1::2], v8),     # Y0 U Y1 V
                 pf.YVYU: (padded[:, 0::2], v8, padded[:, 1::2], u8),     # Y0 V Y1 U
                 pf.UYVY: (u8, padded[:, 0::2], v8, padded[:, 1::2])}[format_]   # U Y0 V Y1
        for index, values in enumerate(order):
            row[:, :, index] = values
        return
    planes[0][...] = y8
    if format_ == pf.NV12:                            # U and V interleaved in plane 1
        planes[1][:, 0::2], planes[1][:, 1::2] = u8, v8
    else:                                             # I420, I422, I444 and their alpha kin
        planes[1][...], planes[2][...] = u8, v8


@pytest.mark.parametrize("format_", sorted(pf.SUPPORTED), ids=pf.name)
def test_each_format_decodes_to_the_photo(format_):
    bgr = photo()
    buffer, strides = encode(bgr, format_)
    planes = pixel_convert.plane_views(buffer, 0, format_, bgr.shape[1], bgr.shape[0], strides)
    decoded = pixel_convert.to_bgr(planes, format_, bgr.shape[1], bgr.shape[0], MATRIX_601)
    assert decoded.shape[:2] == bgr.shape[:2] and decoded.dtype == np.uint8
    error = np.abs(decoded[:, :, :3].astype(int) - bgr.astype(int))
    if format_ in pixel_convert.RGB_FORMATS:
        assert error.max() == 0
    else:   # subsampled chroma blurs colour edges; the bulk must match to a level or two
        assert np.median(error) <= 1 and error.mean() < (1.5 if format_ in (pf.I444, pf.YUVA) else 4), error.mean()


def test_i420_agrees_with_opencv_decoder():
    """OpenCV's BT.601 I420 decoder, an independent implementation, reads the same colours."""
    bgr = photo(160, 120)
    packed = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)          # (h * 3 / 2, w) planes one after another
    planes = pixel_convert.plane_views(packed, 0, pf.I420, 160, 120, (160, 80, 80))
    ours = pixel_convert.to_bgr(planes, pf.I420, 160, 120, MATRIX_601)
    theirs = cv2.cvtColor(packed, cv2.COLOR_YUV2BGR_I420)
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    assert difference.mean() < 2.5 and np.median(difference) <= 2, difference.mean()


@pytest.mark.parametrize("format_", sorted(pf.SUPPORTED), ids=pf.name)
def test_write_back_changes_only_what_the_swap_changed(format_):
    bgr = photo()
    height, width = bgr.shape[:2]
    buffer, strides = encode(bgr, format_)
    inputs = pixel_convert.plane_views(buffer, 0, format_, width, height, strides)
    before = pixel_convert.to_bgr(inputs, format_, width, height, MATRIX_601)
    out_buffer = bytearray(len(buffer))
    outputs = pixel_convert.plane_views(out_buffer, 0, format_, width, height, strides)

    pixel_convert.write_back(outputs, inputs, before, before.copy(), format_, width, height, MATRIX_601)
    assert all(np.array_equal(o, i) for o, i in zip(outputs, inputs)), "an unchanged frame must come back bit-exact"

    after = before.copy()
    after[41:80, 51:100, :3] = (40, 90, 200)      # a swapped "face": an odd-aligned patch of new colour
    pixel_convert.write_back(outputs, inputs, before, after, format_, width, height, MATRIX_601)
    redecoded = pixel_convert.to_bgr(outputs, format_, width, height, MATRIX_601)
    inside = np.abs(redecoded[43:78, 53:98, :3].astype(int) - np.array((40, 90, 200)))
    assert inside.max() <= 3, inside.max()
    # every byte far from the patch (one chroma sample of margin) is the camera's own
    reference = pixel_convert.to_bgr(inputs, format_, width, height, MATRIX_601)
    far = np.ones((height, width), bool)
    far[38:83, 48:103] = False
    assert np.array_equal(redecoded[far], reference[far])
    if len(outputs) == 4:
        assert np.array_equal(outputs[3], inputs[3]), "the alpha plane changed"


@pytest.mark.parametrize("format_", sorted(set(pixel_convert.SUBSAMPLING) - {pf.I444, pf.YUVA}), ids=pf.name)
def test_a_chroma_sample_is_rewritten_when_one_pixel_it_covers_changed(format_):
    """One changed pixel in a chroma sample's block (the edge of a swapped face, a strand
    of the swap's feathered margin): its sample takes the new colour's share. The changed
    mask was averaged down as 0/1 bytes, which rounded a block with one or two changed
    pixels of four to "unchanged": the face's edge kept the camera's colour."""
    bgr = photo()
    height, width = bgr.shape[:2]
    buffer, strides = encode(bgr, format_)
    inputs = pixel_convert.plane_views(buffer, 0, format_, width, height, strides)
    before = pixel_convert.to_bgr(inputs, format_, width, height, MATRIX_601)
    after = before.copy()
    after[41, 51, :3] = (200, 40, 40)      # a lone blue pixel, not at its block's first row or column
    outputs = pixel_convert.plane_views(bytearray(len(buffer)), 0, format_, width, height, strides)
    pixel_convert.write_back(outputs, inputs, before, after, format_, width, height, MATRIX_601)
    sx, sy = pixel_convert.SUBSAMPLING[format_]
    _, u_in, v_in = pixel_convert.yuv_views(inputs, format_, width, height)
    _, u_out, v_out = pixel_convert.yuv_views(outputs, format_, width, height)
    row, col = 41 // sy, 51 // sx
    assert int(u_out[row, col]) > int(u_in[row, col]), "the blue pixel's chroma sample was left as it was"
    changed = (np.asarray(u_out, int) != np.asarray(u_in, int)) | (np.asarray(v_out, int) != np.asarray(v_in, int))
    assert int(changed.sum()) == 1, "samples that cover no changed pixel were rewritten"


@pytest.mark.parametrize("format_", sorted(pf.SUPPORTED), ids=pf.name)
def test_a_change_of_brightness_moves_only_the_brightness(format_):
    """What the mark changes (change_brightness) is each pixel's Y, in place, on an odd-sized
    frame with padded lines: the Y bytes the format's own byte order puts each pixel's Y in
    (written out by `pack`, independently of the module), every other byte as it was (a
    packed frame's U and V and its last group's padding included). An RGB frame's pixels
    are its brightness."""
    bgr = np.minimum(photo(), 250)   # RGB formats carry it as it is: no byte may wrap
    height, width = bgr.shape[:2]
    buffer, strides = encode(bgr, format_)
    before = np.frombuffer(bytes(buffer), np.uint8)
    planes = pixel_convert.plane_views(buffer, 0, format_, width, height, strides)
    seen = []

    def brighten(pixels):
        seen.append(pixels.shape)
        if pixels.ndim == 3:
            pixels[:, :, :3] += 1   # the colour channels (an alpha of 255 would wrap)
        else:
            pixels += 1

    pixel_convert.change_brightness(planes, format_, width, height, brighten)
    del planes
    changed = np.frombuffer(buffer, np.uint8).astype(int) - before
    if format_ in pixel_convert.RGB_FORMATS:
        channels = 3 if format_ == pf.BGR3 else 4
        assert seen == [(height, width, channels)]
        assert changed.min() == 0 and int(changed.sum()) == height * width * 3
        return
    assert seen == [(height, width)]
    expected = bytearray(len(buffer))   # a 1 where the format keeps a pixel's Y, from its definition
    sx, sy = pixel_convert.SUBSAMPLING[format_]
    no_chroma = np.zeros((-(-height // sy), -(-width // sx)), np.uint8)
    pack(pixel_convert.plane_views(expected, 0, format_, width, height, strides), format_,
         np.ones((height, width), np.uint8), no_chroma, no_chroma)
    assert np.array_equal(changed, np.frombuffer(expected, np.uint8)), "bytes other than the pixels' Y moved"
