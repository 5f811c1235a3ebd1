"""How unlike a face's own skin each pixel is, and which unlike parts cover the face.

One measure for both places something covers a face: the source photo, once
(photo_face: a fringe, a hat, a hand in the photo), and the camera's frames, live
(occlusion: a face mask, a cup, a microphone, hair). A pixel is unlike the skin when its
chromaticity is far from the skin's (Mahalanobis, against the skin's own spread: a shadow
or make-up keeps the skin's hue) or when it is dark and textured like hair (hair of the
skin's own hue, a blonde fringe, is darker and has strands; a shadow is darker but smooth).
What covers a face comes from outside it: only unlike patches that reach the face's
outline count (a freckle, a highlight or a nostril inside the face do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .masks import parts_reaching

# Chromaticity this many standard deviations (of the reference skin's, Mahalanobis) from
# the skin's: skin 90% under 2.2 on the test photos, the astronaut's fringe 4-12.
UNLIKE_NEAR, UNLIKE_FAR = 2.0, 4.0
DARK_NEAR, DARK_FAR = 0.25, 0.45            # 1 - brightness / the skin's
TEXTURE_NEAR, TEXTURE_FAR = 1.3, 2.2        # local contrast / the skin's
COVER_GROW = 0.05                           # covered patches grown and feathered, of the face's size
EDGE_BAND = 0.06                            # a patch counts as coming from outside if it reaches this close to the outline


@dataclass(frozen=True)
class SkinModel:
    """A face's skin: its chromaticity's centre and spread, its brightness and texture."""

    centre: np.ndarray      # (2,) float32: median chromaticity (G, R shares x 255)
    inverse: np.ndarray     # (2, 2): inverse covariance of the chromaticity (+ identity, so never singular)
    level: float            # median brightness
    texture: float          # median local contrast

    @classmethod
    def measure(cls, looks: "SkinLooks", reference: np.ndarray) -> "SkinModel":
        """From the pixels of `reference` (boolean, at least a few dozen)."""
        samples = looks.chroma[reference]
        centre = np.median(samples, axis=0)
        # OpenCV's inverse, not np.linalg.inv: that one goes through OpenBLAS, whose threads
        # took 2-9 ms to wake on a busy machine for this 2x2 (measured in the worker's engine)
        inverse = cv2.invert(np.cov((samples - centre).T) + np.eye(2))[1]
        return cls(centre.astype(np.float32), inverse.astype(np.float32), float(np.median(looks.brightness[reference])),
                   max(float(np.median(looks.texture[reference])), 0.5))

    def blended(self, newer: "SkinModel", weight: float) -> "SkinModel":
        """This model moved `weight` of the way to a newer measure (light changes slowly)."""
        mix = lambda a, b: (1.0 - weight) * a + weight * b   # noqa: E731
        return SkinModel(mix(self.centre, newer.centre).astype(np.float32),
                         mix(self.inverse, newer.inverse).astype(np.float32),
                         mix(self.level, newer.level), mix(self.texture, newer.texture))


@dataclass(frozen=True)
class SkinLooks:
    """What the measure reads from an image, per pixel."""

    chroma: np.ndarray      # (h, w, 2) float32
    brightness: np.ndarray  # (h, w) float32
    texture: np.ndarray     # (h, w) float32: local contrast

    @classmethod
    def of(cls, image: np.ndarray, face_size: float) -> "SkinLooks":
        """image: BGR uint8; face_size in its pixels (sets the texture's scale)."""
        values = image[:, :, :3].astype(np.float32) + 1.0
        # the channels added one by one: numpy's sum over a 3-long last axis took 16x as long
        total = values[:, :, 0] + values[:, :, 1] + values[:, :, 2]
        chroma = values[:, :, 1:] * (255.0 / total)[:, :, None]
        brightness = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
        detail = brightness - cv2.GaussianBlur(brightness, (0, 0), max(0.6, 0.015 * face_size))
        texture = np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), max(0.8, 0.02 * face_size)))
        return cls(chroma, brightness, texture)


def mahalanobis(offsets: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """sqrt(o . inverse . o) over the last axis of 2-vectors, written out: np.einsum's
    general loop took 0.1 ms on a 72-pixel face for what is five array operations."""
    dx, dy = offsets[..., 0], offsets[..., 1]
    squared = inverse[0, 0] * dx * dx + (inverse[0, 1] + inverse[1, 0]) * dx * dy + inverse[1, 1] * dy * dy
    return np.sqrt(np.maximum(squared, 0.0))


def _ramp(values: np.ndarray, near: float, far: float) -> np.ndarray:
    return np.clip((values - near) / (far - near), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Unlike:
    """The measure's parts, each 0..1 per pixel: how surely the colour is not this skin's,
    how much darker it is, how much more textured."""

    colour: np.ndarray
    dark: np.ndarray
    textured: np.ndarray
    colour_distance: np.ndarray   # the chromaticity's distance from the skin's, in its standard deviations

    @classmethod
    def of(cls, looks: SkinLooks, model: SkinModel, sensitivity: float = 0.5) -> "Unlike":
        """sensitivity 0..1 moves the ramps' thresholds (0.5: as measured on the test photos)."""
        distance = mahalanobis(looks.chroma - model.centre, model.inverse)
        shift = 1.5 - sensitivity   # 1.5 - 0.5: a higher sensitivity lowers the thresholds
        return cls(_ramp(distance, UNLIKE_NEAR * shift, UNLIKE_FAR * shift),
                   _ramp(1.0 - looks.brightness / max(model.level, 1.0), DARK_NEAR * shift, DARK_FAR * shift),
                   _ramp(looks.texture / model.texture, TEXTURE_NEAR * shift, TEXTURE_FAR * shift), distance / shift)


def unlikeness(looks: SkinLooks, model: SkinModel) -> np.ndarray:
    """0..1 per pixel: how surely it is not this skin, in a photo: unlike in colour, or dark
    and textured like hair."""
    parts = Unlike.of(looks, model)
    return np.maximum(parts.colour, parts.dark * parts.textured)


def reaching_outline(unlike: np.ndarray, open_skin: np.ndarray, oval: np.ndarray, face_size: float) -> np.ndarray:
    """The unlike-skin patches of the open skin that reach the face's outline, grown and
    feathered (0..1): a freckle, a highlight or a nostril inside the face is not a cover."""
    return grown(parts_at_outline(unlike, open_skin, oval, face_size), face_size)


def parts_at_outline(unlike: np.ndarray, open_skin: np.ndarray, oval: np.ndarray, face_size: float) -> np.ndarray:
    """Boolean: the unlike-skin parts of the open skin that reach within EDGE_BAND of the outline."""
    band = max(1, round(EDGE_BAND * face_size))
    inner = cv2.erode(oval.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1)))
    return parts_reaching((unlike > 0.5) & open_skin, inner == 0)


def grown(parts: np.ndarray, face_size: float, reach: float = 1.0) -> np.ndarray:
    """Boolean parts grown by `reach` times COVER_GROW (of the face's size) and feathered
    over COVER_GROW: 0..1. reach 1: the parts' own edge is at about 0.84; 2: at 0.98."""
    if not parts.any():
        return np.zeros(parts.shape, np.float32)
    kept = parts.astype(np.float32)
    grow = max(1, round(COVER_GROW * face_size))
    size = 2 * round(reach * grow) + 1
    kept = cv2.dilate(kept, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    return np.clip(cv2.GaussianBlur(kept, (0, 0), grow), 0.0, 1.0)
