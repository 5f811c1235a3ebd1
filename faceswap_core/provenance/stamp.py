"""What goes on every finished frame: the visible label (when chosen), then the invisible mark.

The label comes first so the mark covers it too. The worker (OBS) and `faceswap swap`
both stamp through this class, from the settings schema's "output" values.
"""

from __future__ import annotations

import numpy as np

from .. import schema
from . import mark

LABEL_MARGIN = 0.5     # the box's padding and its distance from the edge, in letter heights
LABEL_BOX_ALPHA = 0.55


def ascii_text(text: str) -> str:
    """OpenCV's built-in font has ASCII only; other characters show as '?' (said in the help)."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text).strip() or "AI face swap"


class Label:
    """The label drawn once per frame size as a small BGR tile and its coverage, then
    blended into each frame (a fraction of a millisecond)."""

    def __init__(self, text: str, corner: str, size: float):
        self.text, self.corner, self.size = ascii_text(text), corner, size
        self._tiles: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, int, int]] = {}

    def _tile(self, width: int, height: int):
        import cv2

        if (width, height) in self._tiles:
            return self._tiles[(width, height)]
        letters = max(8, int(round(self.size * height)))
        font = cv2.FONT_HERSHEY_SIMPLEX
        scale = cv2.getFontScaleFromHeight(font, letters, 1)
        thickness = max(1, letters // 12)
        (text_w, text_h), baseline = cv2.getTextSize(self.text, font, scale, thickness)
        pad = int(letters * LABEL_MARGIN)
        tile_w, tile_h = min(width, text_w + 2 * pad), min(height, text_h + baseline + 2 * pad)
        tile = np.zeros((tile_h, tile_w, 3), np.uint8)
        ink = np.zeros((tile_h, tile_w), np.uint8)
        cv2.putText(tile, self.text, (pad, pad + text_h), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
        cv2.putText(ink, self.text, (pad, pad + text_h), font, scale, 255, thickness, cv2.LINE_AA)
        coverage = np.maximum(ink.astype(np.float32) / 255, LABEL_BOX_ALPHA)[..., None]
        x = pad if "left" in self.corner else width - tile_w - pad
        y = pad if "top" in self.corner else height - tile_h - pad
        if len(self._tiles) > 4:
            self._tiles.clear()
        self._tiles[(width, height)] = (tile.astype(np.float32), coverage, max(0, x), max(0, y))
        return self._tiles[(width, height)]

    def draw(self, frame: np.ndarray) -> None:
        """In place: white letters on a dark, half-transparent box."""
        height, width = frame.shape[:2]
        tile, coverage, x, y = self._tile(width, height)
        h, w = tile.shape[:2]
        region = frame[y:y + h, x:x + w, :3]
        region[...] = (region * (1 - coverage) + tile * coverage + 0.5).astype(np.uint8)


class OutputStamp:
    """Label and mark for one session (one worker, one `faceswap swap` run)."""

    def __init__(self, values: dict, session_id: bytes | None = None):
        self.session_id = session_id or mark.new_session_id()
        self.label: Label | None = None
        self.marker: mark.Marker | None = None
        self._key = None
        self.set_values(values)

    def set_values(self, values: dict) -> None:
        chosen = {key: values.get(key, schema.default_of(schema.BY_KEY[key])) for key in schema.keys_for("output")}
        key = tuple(sorted(chosen.items()))
        if key == self._key:
            return
        self._key = key
        self.label = Label(chosen["label_text"], chosen["label_corner"], chosen["label_size"]) \
            if chosen["label"] else None
        self.marker = mark.Marker(self.session_id, chosen["mark_strength"]) if chosen["mark"] else None

    def describe(self) -> str:
        """For the status line and the command line."""
        parts = []
        if self.marker is not None:
            parts.append(f"marked (session {self.session_id.hex()}, strength {self.marker.strength})")
        if self.label is not None:
            parts.append(f"labelled '{self.label.text}'")
        return ", ".join(parts)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The frame (BGR or BGRA, changed in place) with the label and the mark."""
        self.draw_label(frame)
        self.embed_mark(frame)
        return frame

    def draw_label(self, frame: np.ndarray) -> None:
        if self.label is not None:
            self.label.draw(frame)

    def embed_mark(self, frame: np.ndarray) -> None:
        """In place, on a BGR(A) frame or a luma plane (a YUV frame's Y: only brightness moves
        anyway); a strided view (a plane inside shared memory) is marked through a copy."""
        if self.marker is None:
            return
        if frame.flags.c_contiguous:
            self.marker.embed(frame, out=frame)
        else:
            np.copyto(frame, self.marker.embed(np.ascontiguousarray(frame)))
