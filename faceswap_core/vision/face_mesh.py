"""Faces and their 468-point meshes, from the model inside mediapipe 0.10.21's wheel.

Nothing is downloaded: that release is the last one that ships the face mesh .tflite files
inside the package (see models.md). Its graph detects faces, then tracks each one from its
previous mesh, which is what makes it cheap on video.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")       # what of mediapipe's logging this reaches;
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # the rest: faceswap_core.native_logs

import mediapipe as mp  # noqa: E402
from mediapipe.python.solutions import face_mesh_connections as _connections  # noqa: E402

MIN_FRAME_SIDE = 32       # nothing smaller can hold a face the model would find
DETECT_MAX_SIDE = 1280    # larger frames are downscaled for the mesh: its crop is 192 px anyway
# (bilinear: INTER_AREA costs 4 ms on a 1080p frame, and the mesh does not need it)


def _cycles(edges: frozenset) -> list[list[int]]:
    """Closed loops of landmark indices from mediapipe's undirected edge sets."""
    neighbours: dict[int, list[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    seen: set[int] = set()
    loops = []
    for start in sorted(neighbours):
        if start in seen:
            continue
        loop, previous, current = [start], None, start
        seen.add(start)
        while True:
            nxt = [n for n in neighbours[current] if n != previous and n not in seen]
            if not nxt:
                break
            previous, current = current, nxt[0]
            loop.append(current)
            seen.add(current)
        loops.append(loop)
    return loops


def _outline(edges: frozenset) -> list[int]:
    """One loop around a feature drawn as two directed chains (a brow's lower and upper
    edge): mediapipe lists both from the outer end inwards, so the loop runs along one
    and back along the other."""
    following = dict(edges)
    starts = sorted(set(following) - set(following.values()))
    chains = []
    for point in starts:
        chain = [point]
        while chain[-1] in following:
            chain.append(following[chain[-1]])
        chains.append(chain)
    first, second = chains
    return first + second[::-1]


def _triangles(edges: frozenset, holes: list[list[int]]) -> np.ndarray:
    """The mesh's triangles, with its holes (eyes, open mouth) filled.

    The tesselation lists edges, not faces: a face is three points joined pairwise, but so
    is a triangle of edges around a face (a separating triangle, every edge of which then
    borders three triangles); those are dropped. The mesh has no triangles inside the eyes
    or the mouth; without them the warp would smear the source's eyes.
    """
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    found = set()
    for a, b in edges:
        for c in neighbours[a] & neighbours[b]:
            found.add(tuple(sorted((a, b, c))))
    uses: dict[tuple[int, int], int] = {}
    for a, b, c in found:
        for edge in ((a, b), (b, c), (a, c)):
            uses[edge] = uses.get(edge, 0) + 1
    faces = [t for t in found if min(uses[(t[0], t[1])], uses[(t[1], t[2])], uses[(t[0], t[2])]) < 3]
    for loop in holes:
        faces += _strip(loop)
    return np.array(sorted(faces), dtype=np.int32)


def _strip(loop: list[int]) -> list[tuple[int, int, int]]:
    """Triangulate a closed loop that starts at a corner by zig-zagging between its two
    halves, so each upper-lid (or upper-lip) point pairs with the one below it."""
    triangles = []
    i, j = 0, len(loop) - 1
    while j - i > 1:
        triangles.append((loop[i], loop[i + 1], loop[j]))
        i += 1
        if j - i > 1:
            triangles.append((loop[i], loop[j - 1], loop[j]))
            j -= 1
    return triangles


def _starting_at(loop: list[int], corner: int) -> list[int]:
    index = loop.index(corner)
    return loop[index:] + loop[:index]


# Corners on mediapipe's canonical mesh: the eyes' outer corners and a mouth corner.
_EYE_CORNERS = (33, 263)
_MOUTH_CORNER = 78

# The features left out of the face's skin, each outline grown around its centre so the
# brows' edges, the lids and lashes (eyeliner), and an open mouth's shadow go with them.
FEATURE_BROW_SCALE = 1.4
FEATURE_EYE_SCALE = 1.8
FEATURE_LIPS_SCALE = 1.15

# Mediapipe's canonical mesh numbers the top of the upper lip's outer edge 0: the lip loop
# holding it is the outer one (the edge sets do not say which loop is which).
_UPPER_LIP_TOP = 0


@dataclass(frozen=True)
class MeshTopology:
    """Index loops into the 468 points: which points outline the face, lips, eyes and brows."""

    face_oval: np.ndarray
    outer_lips: np.ndarray
    inner_lips: np.ndarray
    left_eye: np.ndarray
    right_eye: np.ndarray
    left_brow: np.ndarray
    right_brow: np.ndarray
    triangles: np.ndarray   # (T, 3) the mesh's faces, for the warp

    @classmethod
    def from_mediapipe(cls) -> "MeshTopology":
        lips = sorted(_cycles(_connections.FACEMESH_LIPS), key=lambda loop: _UPPER_LIP_TOP not in loop)
        left_eye = _cycles(_connections.FACEMESH_LEFT_EYE)[0]
        right_eye = _cycles(_connections.FACEMESH_RIGHT_EYE)[0]
        holes = [_starting_at(lips[1], _MOUTH_CORNER)]
        holes += [_starting_at(eye, corner) for eye in (left_eye, right_eye)
                  for corner in _EYE_CORNERS if corner in eye]
        return cls(
            face_oval=np.array(_cycles(_connections.FACEMESH_FACE_OVAL)[0]),
            outer_lips=np.array(lips[0]),
            inner_lips=np.array(lips[1]),
            left_eye=np.array(left_eye),
            right_eye=np.array(right_eye),
            left_brow=np.array(_outline(_connections.FACEMESH_LEFT_EYEBROW)),
            right_brow=np.array(_outline(_connections.FACEMESH_RIGHT_EYEBROW)),
            triangles=_triangles(_connections.FACEMESH_TESSELATION, holes),
        )

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.left_eye, self.right_eye

    @property
    def brows(self) -> tuple[np.ndarray, np.ndarray]:
        return self.left_brow, self.right_brow

    def feature_polygons(self, points: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(outline, scale) of the brows, eyes and lips: where a face is not skin. Skin
        measures (colour correction, the photo's light, what covers the photo) leave these out."""
        polygons = [(points[brow], FEATURE_BROW_SCALE) for brow in self.brows]
        polygons += [(points[eye], FEATURE_EYE_SCALE) for eye in self.eyes]
        polygons.append((points[self.outer_lips], FEATURE_LIPS_SCALE))
        return polygons

    def eye_distance(self, points: np.ndarray) -> float:
        """Distance between the eye centres: the face's own unit of length."""
        return float(np.linalg.norm(points[self.left_eye].mean(axis=0) - points[self.right_eye].mean(axis=0)))


@dataclass
class DetectedFace:
    points: np.ndarray   # (468, 2) float32, pixel coordinates in the frame

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0 = self.points.min(axis=0)
        x1, y1 = self.points.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(np.sqrt(max(x1 - x0, 1.0) * max(y1 - y0, 1.0)))


class FaceMeshDetector:
    """One mediapipe graph. static=True for photos (detect every call), False for video
    (track between calls: frames must come from one stream, in order)."""

    def __init__(self, max_faces: int = 4, static: bool = False, min_confidence: float = 0.5):
        self.max_faces = max_faces
        self.static = static
        self._graph = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static,
            max_num_faces=max_faces,
            refine_landmarks=True,   # iris-aware eyes and lips: +0.4 ms, steadier eyes
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def detect(self, image: np.ndarray, max_side: int = DETECT_MAX_SIDE) -> list[DetectedFace]:
        """Faces in a BGR or BGRA image, largest first."""
        height, width = image.shape[:2]
        if min(height, width) < MIN_FRAME_SIDE:
            return []
        scale = min(1.0, max_side / max(height, width))
        small = image if scale == 1.0 else cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
        code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        result = self._graph.process(cv2.cvtColor(small, code))
        faces = []
        for landmarks in result.multi_face_landmarks or ():
            points = np.array([(p.x, p.y) for p in landmarks.landmark], dtype=np.float32)
            points *= np.array([small.shape[1] / scale, small.shape[0] / scale], dtype=np.float32)
            faces.append(DetectedFace(points))
        faces.sort(key=lambda face: -face.size)
        return faces

    def close(self) -> None:
        self._graph.close()
