"""Tips about the source photo, measured once when it is loaded (on its face mesh, or on
the neural engine's five keypoints).

The landmark engine wears the photo's face as it is: its expression, its pose and its
resolution come along. A streamer who picks a laughing, turned or tiny face sees smile
lines that never go away, a stretched cheek or a soft face, and cannot tell why; one
sentence saying what to pick instead fixes that before it is on stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import eyes

if TYPE_CHECKING:   # face_mesh imports mediapipe, which the neural engine does not need
    from .face_mesh import MeshTopology

NOSE_TIP = 1               # mediapipe's canonical mesh numbers the nose tip 1
MOUTH_OPEN = 0.12          # inner lips' openness: closed under 0.04, talking 0.06-0.11, a smile with teeth 0.13+
BROAD_SMILE = 1.05         # mouth width / eye distance: relaxed or talking 0.73-0.99, a broad smile 1.13+
TURNED = 0.25              # nose tip off the eyes' midpoint, along the eye axis, in eye distances
MIN_SHARP_FACE = 120       # pixels (geometric mean of the face's width and height)
TURNED_TIP = "The face in the photo is turned to one side: use a front-facing photo."


def photo_tips(points: np.ndarray, topology: MeshTopology) -> tuple[str, ...]:
    """Sentences for what would make this photo swap better; empty when nothing would."""
    from .face_mesh import DetectedFace

    tips = []
    eye_distance = topology.eye_distance(points)
    corners = eyes.corners(points[topology.outer_lips])
    mouth_width = float(np.linalg.norm(corners[1] - corners[0])) / eye_distance
    if eyes.openness(points[topology.inner_lips]) > MOUTH_OPEN or mouth_width > BROAD_SMILE:
        tips.append("The photo's mouth is open or smiling broadly, and its smile lines stay on your face "
                    "while you talk: a relaxed photo with a closed mouth looks more natural.")
    left, right = (points[eye].mean(axis=0) for eye in topology.eyes)
    if _turned(left, right, points[NOSE_TIP]):
        tips.append(TURNED_TIP)
    if min(eyes.openness(points[eye]) for eye in topology.eyes) < eyes.CLOSED:
        tips.append("An eye in the photo is closed, so the swapped eyes look shut: use a photo with open eyes.")
    size = DetectedFace(points).size
    if size < MIN_SHARP_FACE:
        tips.append(f"The face in the photo is only {size:.0f} pixels across and will look soft: "
                    f"use a photo where it is at least {MIN_SHARP_FACE}.")
    return tuple(tips)


def keypoint_tips(keypoints: np.ndarray) -> tuple[str, ...]:
    """What five keypoints (eyes, nose tip, mouth corners: the neural engine's detector)
    can tell: only the turn. Its identity comes from an embedding, so the photo's smile
    and resolution do not carry over the way a mesh warp's texture does."""
    return (TURNED_TIP,) if _turned(keypoints[0], keypoints[1], keypoints[2]) else ()


def _turned(left_eye: np.ndarray, right_eye: np.ndarray, nose_tip: np.ndarray) -> bool:
    axis = np.asarray(left_eye, dtype=np.float64) - right_eye
    squared = float(np.dot(axis, axis))
    offset = float(np.dot(nose_tip - (np.asarray(left_eye, dtype=np.float64) + right_eye) / 2.0, axis))
    return squared > 0 and abs(offset) / squared > TURNED
