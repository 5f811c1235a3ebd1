"""Occluders in front of faces in ../shared/media, outlined by hand (occluders.json), and
the measure every engine's in-front tests share.

Measured where a swap with keeping off changes the picture (more than SWAPPED_LEVELS) and
inside an outline: how far the output moved from the input there; and, outside the outline
past a band as wide as the mask's soft edge, how much of the face is still swapped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

ITEMS = json.loads(Path(__file__).with_name("occluders.json").read_text())["items"]
SWAPPED_LEVELS = 3      # a pixel the swap changed by more than this is swapped
EDGE_BAND = 0.06        # "outside" starts past a band this wide (of the face's size): the mask's soft edge
STILL_LIMIT = 4.0       # mean levels inside an outline: a lossless still
CLIP_LIMIT = 6.0        # an encoded clip's frame


def label(item: dict) -> str:
    return item["file"] + ("" if item["frame"] is None else f"@{item['frame']}")


def limit(item: dict) -> float:
    return STILL_LIMIT if item["frame"] is None else CLIP_LIMIT


def outline(item: dict, shape) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    for polygon in item["outlines"]:
        cv2.fillPoly(mask, [np.array(polygon, np.int32)], 1)
    return mask.astype(bool)


def moved(output: np.ndarray, frame: np.ndarray) -> np.ndarray:
    return np.abs(output.astype(np.int16) - frame.astype(np.int16)).max(axis=2)


def expect_known_miss(request, item: dict, test: str) -> None:
    """An item's recorded failure for this test, expected strictly (a fix shows as a pass
    that must be recorded)."""
    for miss in item.get("known_misses", ()):
        if miss["test"] == test:
            request.applymarker(pytest.mark.xfail(reason=miss["why"], strict=True))


@dataclass
class Measured:
    item: dict
    frame: np.ndarray
    unkept: np.ndarray     # the output with keeping off
    kept: np.ndarray       # the output with keeping on
    inside: np.ndarray     # bool: inside the outline, where the unkept swap changed the picture
    outside: np.ndarray    # bool: swapped by the unkept swap, past the band around the outline

    @classmethod
    def of(cls, item: dict, frame: np.ndarray, unkept: np.ndarray, kept: np.ndarray) -> "Measured":
        occluder = outline(item, frame.shape)
        swapped = moved(unkept, frame) > SWAPPED_LEVELS
        band = 2 * max(2, round(EDGE_BAND * np.sqrt(swapped.sum()))) + 1
        grown = cv2.dilate(occluder.astype(np.uint8), np.ones((band, band), np.uint8)).astype(bool)
        return cls(item, frame, unkept, kept, occluder & swapped, swapped & ~grown)

    def inside_levels(self, kept: bool) -> np.ndarray:
        return moved(self.kept if kept else self.unkept, self.frame)[self.inside]

    def outside_swapped(self) -> float:
        """The share of the unkept swap's area outside the occluder that is still swapped."""
        return float((moved(self.kept, self.frame)[self.outside] > SWAPPED_LEVELS).mean())
