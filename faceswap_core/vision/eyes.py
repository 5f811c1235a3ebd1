"""Blinks: where the target's eye is closing, its own eyelids show through the swap.

A piecewise-affine warp squeezes the source photo's open eye into the slit of a closing
eye: the result looks half-open, so the swapped face never blinks and the eyes look
glued on. A mesh cannot draw an eyelid the photo does not have, so the target's own lids
are let through instead, faded in as the eye closes (and out as it opens again).

Also where glasses' lenses sit around each eye (`lens_region`): the colour correction
treats what it sees there with suspicion, since a lens can reflect a screen's light.
"""

from __future__ import annotations

import numpy as np

# Openness (eye outline area / width^2, scale-free): above OPEN the swap shows the source's
# eye, below CLOSED the target's lids. Open eyes measure 0.13-0.30 on mediapipe's outline
# (a smile narrows them), shut ones under 0.03; a blink crosses the ramp within a frame
# or two, so it is steep: a half-faded open eye over a shut lid reads as a ghost.
OPEN = 0.11
CLOSED = 0.06
# The lid region let through: an ellipse on the eye's corner-to-corner axis, in eye widths.
LID_HALF_WIDTH = 0.62
LID_HALF_HEIGHT = 0.26
# Where a glasses lens sits, in eye widths: from the brow to the top of the cheek, past
# both eye corners (lp_d12's and lp_d19's reflections fall inside).
LENS_HALF_WIDTH = 0.9
LENS_HALF_HEIGHT = 0.8
_ELLIPSE_STEPS = 24
_ELLIPSE = np.stack([np.cos(angles := np.linspace(0.0, 2.0 * np.pi, _ELLIPSE_STEPS, endpoint=False)),
                     np.sin(angles)], axis=1)   # (steps, 2) the unit circle the regions are drawn from


def openness(outline: np.ndarray) -> float:
    """How open an eye (or the mouth) is: its outline's area over its width squared (0 when shut)."""
    x, y = outline[:, 0].astype(np.float64), outline[:, 1].astype(np.float64)
    # each coordinate's next, the first after the last (np.roll's result, a fifth of its cost)
    next_x, next_y = np.concatenate((x[1:], x[:1])), np.concatenate((y[1:], y[:1]))
    area = 0.5 * abs(float(np.dot(x, next_y) - np.dot(y, next_x)))
    first, second = corners(outline)
    width = float(np.linalg.norm(second - first))
    return area / (width * width) if width > 0 else 0.0


def lid_weight(target_openness: float) -> float:
    """0: show the source's eye; 1: show the target's lids (the eye is shut)."""
    return float(np.clip((OPEN - target_openness) / (OPEN - CLOSED), 0.0, 1.0))


def lid_region(outline: np.ndarray) -> np.ndarray:
    """A polygon (frame coordinates) covering the eye and both lids, open or shut."""
    return _around_corners(outline, LID_HALF_WIDTH, LID_HALF_HEIGHT)


def lens_region(outline: np.ndarray) -> np.ndarray:
    """A polygon (frame coordinates) covering where a glasses lens in front of this eye would be."""
    return _around_corners(outline, LENS_HALF_WIDTH, LENS_HALF_HEIGHT)


def _around_corners(outline: np.ndarray, half_width: float, half_height: float) -> np.ndarray:
    """An ellipse on the eye's corner-to-corner axis, its half axes in eye widths.

    Built from the corners, not the outline: a shut eye's outline is a line.
    """
    first, second = corners(outline)
    centre = (first + second) / 2.0
    axis = second - first
    width = float(np.linalg.norm(axis))
    along = axis / width if width > 0 else np.array([1.0, 0.0])
    across = np.array([-along[1], along[0]])
    axes = np.stack([along * (half_width * width), across * (half_height * width)])   # (2, 2)
    return (centre + _ELLIPSE @ axes).astype(np.float32)


def corners(outline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The outline's two points farthest apart (an eye's or the mouth's corners)."""
    points = outline.astype(np.float64)
    across, down = (points[:, None, axis] - points[None, :, axis] for axis in (0, 1))
    distances = np.sqrt(across * across + down * down)   # np.linalg.norm's sum, written out: the same bits
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    return points[i], points[j]
