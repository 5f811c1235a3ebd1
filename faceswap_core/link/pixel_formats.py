"""The pixel formats a frame can cross the channel in: OBS's own `enum video_format`.

The render path always hands over BGRA (what it reads back from the GPU). The camera
path hands over an async source's frame exactly as libobs holds it (NV12 from a webcam,
I420 from a media file, YUY2 from a capture card, ...): its planes are copied into the
input slot one after another, each with the frame's own line size, and the worker
answers in the same format and line sizes, so the filter copies the planes straight back.

Only 8-bit formats whose byte order is certain are listed: the worker converts those
(faceswap_core.worker.pixel_convert). Others (10-bit, grey, AYUV) are drawn through the render
path instead, so every format works.
"""

from __future__ import annotations

from typing import NamedTuple

# libobs/media-io/video-io.h, enum video_format (unchanged from OBS 28 to 32)
I420 = 1
NV12 = 2
YVYU = 3
YUY2 = 4
UYVY = 5
RGBA = 6
BGRA = 7
BGRX = 8
Y800 = 9
I444 = 10
BGR3 = 11
I422 = 12
I40A = 13
I42A = 14
YUVA = 15
AYUV = 16

NAMES = {I420: "I420", NV12: "NV12", YVYU: "YVYU", YUY2: "YUY2", UYVY: "UYVY", RGBA: "RGBA", BGRA: "BGRA",
         BGRX: "BGRX", Y800: "Y800", I444: "I444", BGR3: "BGR3", I422: "I422", I40A: "I40A", I42A: "I42A",
         YUVA: "YUVA", AYUV: "AYUV", 17: "I010", 18: "P010", 19: "I210", 20: "I412", 21: "YA2L", 22: "P216",
         23: "P416", 24: "V210", 25: "R10L"}


class Plane(NamedTuple):
    """One plane of a frame: the least bytes one of its rows holds, and how many rows."""
    row_bytes: int
    rows: int


def _half(value: int) -> int:
    return (value + 1) // 2


# format -> planes for a width x height frame
_PLANES = {
    I420: lambda w, h: (Plane(w, h), Plane(_half(w), _half(h)), Plane(_half(w), _half(h))),
    I40A: lambda w, h: (Plane(w, h), Plane(_half(w), _half(h)), Plane(_half(w), _half(h)), Plane(w, h)),
    NV12: lambda w, h: (Plane(w, h), Plane(2 * _half(w), _half(h))),
    I422: lambda w, h: (Plane(w, h), Plane(_half(w), h), Plane(_half(w), h)),
    I42A: lambda w, h: (Plane(w, h), Plane(_half(w), h), Plane(_half(w), h), Plane(w, h)),
    I444: lambda w, h: (Plane(w, h),) * 3,
    YUVA: lambda w, h: (Plane(w, h),) * 4,
    YUY2: lambda w, h: (Plane(4 * _half(w), h),),
    YVYU: lambda w, h: (Plane(4 * _half(w), h),),
    UYVY: lambda w, h: (Plane(4 * _half(w), h),),
    RGBA: lambda w, h: (Plane(4 * w, h),),
    BGRA: lambda w, h: (Plane(4 * w, h),),
    BGRX: lambda w, h: (Plane(4 * w, h),),
    BGR3: lambda w, h: (Plane(3 * w, h),),
}
SUPPORTED = frozenset(_PLANES)
MAX_PLANES = 4


def name(format_: int) -> str:
    return NAMES.get(format_, f"format {format_}")


def planes(format_: int, width: int, height: int) -> tuple[Plane, ...]:
    """The planes of a frame in `format_`; raises KeyError for a format not SUPPORTED."""
    return _PLANES[format_](width, height)


def frame_bytes(format_: int, width: int, height: int, strides) -> int:
    """Bytes a frame takes in a slot with these line sizes (planes one after another)."""
    return sum(stride * plane.rows for plane, stride in zip(planes(format_, width, height), strides))


def geometry_problem(format_: int, width: int, height: int, strides, capacity: int) -> str:
    """Why a frame of this format, size and line sizes cannot sit in a slot, or ''."""
    if format_ not in SUPPORTED:
        return f"{name(format_)} frames cannot cross the channel"
    layout = planes(format_, width, height)
    if len(strides) < len(layout):
        return f"{name(format_)} has {len(layout)} planes, {len(strides)} line sizes given"
    for index, (plane, stride) in enumerate(zip(layout, strides)):
        if stride < plane.row_bytes:
            return f"line size {stride} of plane {index} is shorter than a {width}-pixel {name(format_)} row"
    total = frame_bytes(format_, width, height, strides)
    if total > capacity:
        return f"a {width}x{height} {name(format_)} frame takes {total} bytes; the slot holds {capacity}"
    return ""
