"""An async source's frame (NV12, I420, YUY2, ...) to BGR for the engine, and the swap back.

The camera path hands the worker a frame in the format libobs holds it in (see
link.pixel_formats). The conversion uses the frame's own colour matrix, the one OBS's
shaders would use to draw it (BT.601/709, limited or full range, whatever the source
said), so the face the engine sees has the colours the viewer would see.

Back: only pixels the swap changed are converted back and written; every other byte of
the answer is the camera's own, so a frame without a face comes back bit-exact and the
background never drifts by a rounding step. A chroma sample is rewritten when any pixel
it covers changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..bgra import bgr_copy, put_bgr
from ..link import pixel_formats as pf

RGB_FORMATS = {pf.BGRA: (0, 1, 2), pf.BGRX: (0, 1, 2), pf.RGBA: (2, 1, 0), pf.BGR3: (0, 1, 2)}
PACKED_422 = {pf.YUY2: (0, 1, 3), pf.YVYU: (0, 3, 1), pf.UYVY: (1, 0, 2)}   # byte of Y0, U, V in 4
SUBSAMPLING = {pf.I420: (2, 2), pf.I40A: (2, 2), pf.NV12: (2, 2), pf.I422: (2, 1), pf.I42A: (2, 1),
               pf.I444: (1, 1), pf.YUVA: (1, 1), pf.YUY2: (2, 1), pf.YVYU: (2, 1), pf.UYVY: (2, 1)}
CONVERTIBLE = frozenset(RGB_FORMATS) | frozenset(SUBSAMPLING)


def plane_views(buffer, offset: int, format_: int, width: int, height: int, strides) -> list[np.ndarray]:
    """Each plane of a frame stored in `buffer` from `offset`, planes one after another,
    as a (rows, row bytes) uint8 view."""
    views = []
    for plane, stride in zip(pf.planes(format_, width, height), strides):
        full = np.ndarray((plane.rows, stride), np.uint8, buffer, offset)
        views.append(full[:, :plane.row_bytes])
        offset += stride * plane.rows
    return views


def yuv_views(planes: list[np.ndarray], format_: int, width: int, height: int):
    """(Y, U, V) views into a YUV frame's planes: Y full size, U and V subsampled."""
    luma = planes[0]
    if format_ in PACKED_422:
        y0, u, v = PACKED_422[format_]
        return luma[:height, y0::2][:, :width], luma[:height, u::4], luma[:height, v::4]
    if format_ == pf.NV12:
        return luma[:height, :width], planes[1][:, 0::2], planes[1][:, 1::2]
    return luma[:height, :width], planes[1], planes[2]


def _unpack(packed: np.ndarray, format_: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a packed 4:2:2 frame (YUY2, YVYU, UYVY: two pixels in four bytes) as its own
    contiguous Y, U and V, Y two samples a group wide (an odd width's last one is padding).
    OpenCV splits the groups: numpy's views of every other or every fourth byte are copied
    element by element, 0.4-0.6 ms a 720p frame each way."""
    quads = cv2.split(_groups(packed))
    y0, u, v = PACKED_422[format_]
    return cv2.merge([quads[y0], quads[y0 + 2]]).reshape(packed.shape[0], -1), quads[u], quads[v]


def _repack(packed: np.ndarray, format_: int, luma: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """`_unpack`'s planes, changed, back into the packed rows they came from, in place."""
    y0, ui, vi = PACKED_422[format_]
    quads: list = [None] * 4
    quads[y0], quads[y0 + 2] = cv2.split(luma.reshape(luma.shape[0], -1, 2))
    quads[ui], quads[vi] = u, v
    _groups(packed)[...] = cv2.merge(quads)


def _groups(packed: np.ndarray) -> np.ndarray:
    """(rows, groups, 4) over the same bytes: never a copy (written through by _repack)."""
    groups = packed.view()
    groups.shape = (packed.shape[0], packed.shape[1] // 4, 4)   # raises where only a copy could do
    return groups


def change_brightness(planes: list[np.ndarray], format_: int, width: int, height: int, change) -> None:
    """change(pixels) on where a change of brightness goes, in place: the Y plane of a YUV
    frame (a packed frame's taken apart and put back: marked through its every other byte
    it took 0.46 ms at 720p, this 0.25), the pixels of an RGB one."""
    if format_ in RGB_FORMATS:
        channels = 3 if format_ == pf.BGR3 else 4
        change(planes[0][:height, :width * channels].reshape(height, width, channels))
    elif format_ in PACKED_422:
        rows = planes[0][:height]
        luma, u, v = _unpack(rows, format_)
        change(luma[:, :width])
        _repack(rows, format_, luma, u, v)
    else:
        change(yuv_views(planes, format_, width, height)[0])


def yuv_matrix(kr: float, kb: float, full_range: bool) -> tuple:
    """A YUV -> RGB matrix in OBS's shape (3 rows of Y, U, V, offset, for 0..1 values), from
    a standard's luma weights (BT.601 0.299/0.114, BT.709 0.2126/0.0722): how frames that
    do not come from OBS (a video file through the CLI) are read the same way."""
    kg = 1.0 - kr - kb
    luma, chroma = (1.0, 1.0) if full_range else (255 / 219, 255 / 224)
    black = 0.0 if full_range else 16 / 255
    coefficients = ((0.0, 2 * (1 - kr)),                                   # R: from V
                    (-2 * (1 - kb) * kb / kg, -2 * (1 - kr) * kr / kg),    # G: from U and V
                    (2 * (1 - kb), 0.0))                                    # B: from U
    rows = []
    for cu, cv in coefficients:
        cu, cv = cu * chroma, cv * chroma
        rows += [luma, cu, cv, -luma * black - (cu + cv) * 128 / 255]
    return tuple(rows)


def _bgr_matrices(matrix) -> tuple[np.ndarray, np.ndarray]:
    """OBS's YUV -> RGB rows (0..1 units) as cv2.transform matrices for 0..255 values:
    YUV -> BGR, and its inverse BGR -> YUV."""
    rows = np.asarray(matrix, np.float64).reshape(3, 4)[::-1]       # B, G, R rows
    forward = np.hstack([rows[:, :3], rows[:, 3:] * 255.0])
    # OpenCV's, not np.linalg.inv: that one goes through OpenBLAS, whose threads took 6-8 ms
    # to wake on a busy machine for this 3x3 (0.002 ms here), and this runs on every frame
    inverse3 = cv2.invert(np.ascontiguousarray(rows[:, :3]))[1]
    backward = np.hstack([inverse3, -(inverse3 @ rows[:, 3:]) * 255.0])
    return forward, backward


def to_bgr(planes: list[np.ndarray], format_: int, width: int, height: int, matrix) -> np.ndarray:
    """A new (height, width, 3) BGR picture of the frame (4 channels for BGRA/BGRX)."""
    if format_ in RGB_FORMATS:
        channels = 3 if format_ == pf.BGR3 else 4
        pixels = planes[0][:height, :width * channels].reshape(height, width, channels)
        if format_ == pf.RGBA:
            return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGR)
        return bgr_copy(pixels) if format_ == pf.BGRX else np.array(pixels)
    if format_ in PACKED_422:
        luma, u, v = _unpack(planes[0][:height], format_)
        luma = luma[:, :width]
    else:
        luma, u, v = yuv_views(planes, format_, width, height)
    if u.shape != luma.shape:
        # as OBS's shaders sample chroma: each packed pair's own, else interpolated
        interpolation = cv2.INTER_NEAREST if format_ in PACKED_422 else cv2.INTER_LINEAR
        u = cv2.resize(np.ascontiguousarray(u), (width, height), interpolation=interpolation)
        v = cv2.resize(np.ascontiguousarray(v), (width, height), interpolation=interpolation)
    yuv = cv2.merge([np.ascontiguousarray(luma), np.ascontiguousarray(u), np.ascontiguousarray(v)])
    return cv2.transform(yuv, _bgr_matrices(matrix)[0])


def changed_box(before: np.ndarray, after: np.ndarray, sub=(1, 1)):
    """(top, bottom, left, right) around every changed pixel of two BGR pictures, aligned
    to the chroma subsampling, with the changed mask inside it (uint8, nonzero where
    changed); None when nothing changed.

    OpenCV all the way (compare, a grey of the three channels' flags, boundingRect):
    numpy's any() over the channel axis took 20 ms at 720p here, this well under 2."""
    height, width = before.shape[:2]
    flags = cv2.compare(after.reshape(height, -1), before.reshape(height, -1), cv2.CMP_NE)
    changed = cv2.cvtColor(flags.reshape(height, width, 3), cv2.COLOR_BGR2GRAY)   # > 0 where any differs
    left, top, box_width, box_height = cv2.boundingRect(changed)
    if box_width == 0:
        return None
    sx, sy = sub
    bottom = min(height, -(-(top + box_height) // sy) * sy)
    right = min(width, -(-(left + box_width) // sx) * sx)
    top, left = top - top % sy, left - left % sx
    return (top, bottom, left, right), changed[top:bottom, left:right]


def _paste(target: np.ndarray, values: np.ndarray, where: np.ndarray) -> None:
    """target[where != 0] = values[where != 0], in place. OpenCV's masked copy where the
    target's rows are contiguous (a planar format's plane: 0.01 ms against numpy's 0.14 for
    a 400-pixel face's luma), numpy's where they are not (a packed format's every other byte)."""
    if target.strides[-1] == target.itemsize:
        cv2.copyTo(np.ascontiguousarray(values), where, target)
    else:
        np.copyto(target, values, where=where.astype(bool))


def write_back(out_planes, in_planes, before: np.ndarray, after: np.ndarray, format_: int, width: int,
               height: int, matrix) -> None:
    """The answer in the frame's own format: the input's bytes, with the pixels the swap
    changed (`after` against `before`, both from to_bgr) converted back."""
    for out, source in zip(out_planes, in_planes):
        if out is not source:   # the CLI writes back into the frame it read
            np.copyto(out, source)
    if format_ in RGB_FORMATS:
        _write_rgb(out_planes[0], after, format_, width, height)
        return
    sub = SUBSAMPLING[format_]
    found = changed_box(before, after, sub)
    if found is None:
        return
    (top, bottom, left, right), mask = found
    new_y, new_u, new_v = cv2.split(cv2.transform(np.ascontiguousarray(after[top:bottom, left:right, :3]),
                                                  _bgr_matrices(matrix)[1]))
    sx, sy = sub
    ctop, cbottom, cleft, cright = top // sy, -(-bottom // sy), left // sx, -(-right // sx)
    size = (cright - cleft, cbottom - ctop)
    if sub == (1, 1):
        chroma_mask = mask
    else:
        chroma_mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)   # nonzero where any pixel changed
        new_u = cv2.resize(new_u, size, interpolation=cv2.INTER_AREA)
        new_v = cv2.resize(new_v, size, interpolation=cv2.INTER_AREA)
    packed = None
    if format_ in PACKED_422:   # the region's pairs of pixels, four bytes each, taken apart and put back
        packed = out_planes[0][top:bottom, cleft * 4:cright * 4]
        whole_luma, u, v = _unpack(packed, format_)
        luma = whole_luma[:, :right - left]
    else:
        luma, u, v = yuv_views(out_planes, format_, width, height)
        luma, u, v = luma[top:bottom, left:right], u[ctop:cbottom, cleft:cright], v[ctop:cbottom, cleft:cright]
    _paste(luma, new_y, mask)
    for plane, values in ((u, new_u), (v, new_v)):
        _paste(plane, values, chroma_mask)
    if packed is not None:
        _repack(packed, format_, whole_luma, u, v)


def _write_rgb(plane: np.ndarray, after: np.ndarray, format_: int, width: int, height: int) -> None:
    channels = 3 if format_ == pf.BGR3 else 4
    pixels = plane[:height, :width * channels].reshape(height, width, channels)
    put_bgr(pixels, after, RGB_FORMATS[format_])
