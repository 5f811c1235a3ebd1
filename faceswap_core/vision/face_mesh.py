"""Faces and their 468-point meshes, from the model inside mediapipe 0.10.21's wheel.

Nothing is downloaded: that release is the last one that ships the face mesh .tflite files
inside the package (see models.md). On video each face is followed from its previous mesh
(the landmark model reads a square placed by the last mesh), which is what makes it cheap;
the face detector only looks for faces that are not followed yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .change_watch import ChangeWatch
from .mediapipe_graphs import (MIN_CROP_SIDE, LandmarkReader, ReadSquare, graph_config, landmark_graph, mp,
                               normalized_points, rgb, search_graph)
from mediapipe.python import packet_creator, solution_base  # noqa: E402  (after mediapipe_graphs: its logging)
from mediapipe.python.solutions import face_mesh_connections as _connections  # noqa: E402

from .photo import fit_within

MIN_FRAME_SIDE = MIN_CROP_SIDE   # nothing smaller can hold a face the model would find
DETECT_MAX_SIDE = 1280    # larger frames are downscaled (bilinear) for the mesh: its crop is 192 px anyway


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


# Mediapipe's own graph for video (face_landmark_front_cpu) runs its face detector on every
# frame on which it tracks fewer than max_num_faces faces: with the default of four and one
# streamer, on every frame (1.2 ms of the mesh's 4.1 ms CPU at 720p). It also converts and
# copies the whole frame for a landmark model that reads a 192-pixel square. The video path
# below runs mediapipe's own subgraphs (the same models, the same ROI rules) from two small
# graphs, shows the landmark model only a crop around each face, and searches for new faces
# when a face was lost, while none is followed, or every SEARCH_EVERY frames; every
# QUIET_SEARCH_EVERY once a whole round of searches found no face and nothing changed in the
# frame outside the faces since the last (vision.change_watch: someone who comes in does).
SEARCH_EVERY = 10        # frames between searches for more faces while fewer than max_faces are followed
QUIET_SEARCH_EVERY = 30  # ... once QUIET_SEARCHES in a row found none and the frame stayed calm
QUIET_SEARCHES = 4       # a round: the whole frame and each of the four quarter tiles once
SAME_FACE = 0.5          # squares overlapping this much (intersection over union) hold one face (mediapipe's own)
CROP_MAX_SIDE = 768      # a larger crop is scaled down first (the model reads 192 pixels)
SEARCH_SIDE = 256        # what the face detector is handed (it reads 128 pixels): see _found_in

_LANDMARK_GRAPH = landmark_graph("FaceLandmarkCpu", "FaceLandmarkLandmarksToRoi", "WITH_ATTENTION:with_attention")
_SEARCH_GRAPH = search_graph("FaceDetectionShortRangeCpu", "FaceDetectionFrontDetectionToRoi")


def box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _unseen(squares: list[ReadSquare], known: list[ReadSquare]) -> list[ReadSquare]:
    """The squares that hold no face of `known` (overlap at most SAME_FACE with each)."""
    return [square for square in squares
            if not any(box_overlap(square.box, other.box) > SAME_FACE for other in known)]


def quarter_tiles(shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Four overlapping tiles (x0, y0, x1, y1), each a little over half the image a side:
    where a face too small for the detector on the whole image is found (a group photo, two
    people on camera)."""
    height, width = shape[:2]
    tile_h, tile_w = height // 2 + height // 8, width // 2 + width // 8
    return [(x, y, x + tile_w, y + tile_h) for y in (0, height - tile_h) for x in (0, width - tile_w)]


class _FollowedFaces:
    """Faces followed through a video from their last meshes (see SEARCH_EVERY above)."""

    def __init__(self, max_faces: int):
        self.max_faces = max_faces
        self._landmarks = LandmarkReader(_LANDMARK_GRAPH, {"with_attention": packet_creator.create_bool(True)})
        self._search = solution_base.SolutionBase(graph_config=graph_config(_SEARCH_GRAPH))
        self._followed: list[ReadSquare] = []
        self._since_search = SEARCH_EVERY
        self._searches = 0
        self._fruitless = 0   # searches in a row that found no face
        self._watch = ChangeWatch()   # the frame's change outside the faces, frame to frame
        self._changed = False   # ... at any frame since the last search

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        faces, squares = self._read(image, self._followed)
        lost = len(squares) < len(self._followed)
        self._since_search += 1
        if len(squares) < self.max_faces and (lost or not squares or self._search_due(image, faces)):
            self._since_search, self._changed = 0, False
            found = _unseen(self._find(image), squares)
            more_faces, more_squares = self._read(image, found[: self.max_faces - len(squares)])
            faces, squares = faces + more_faces, squares + more_squares
            self._fruitless = 0 if more_faces else self._fruitless + 1
        kept: list[int] = []   # two squares that drifted onto one face: the larger face stays
        for index in sorted(range(len(faces)), key=lambda i: -faces[i].size):
            if _unseen([squares[index]], [squares[other] for other in kept]):
                kept.append(index)
        self._followed = [squares[index] for index in kept]
        return [faces[index] for index in kept]

    def _search_due(self, image: np.ndarray, faces: list[DetectedFace]) -> bool:
        """Every SEARCH_EVERY frames; every QUIET_SEARCH_EVERY while a round of searches found
        nothing and the frame outside the faces stayed calm (a streamer alone, still: a
        search is two detector runs, 3-4 ms at 720p)."""
        height, width = image.shape[:2]
        side = max(height, width)
        self._changed |= self._watch.changed(image, ((width - side) // 2, (height - side) // 2, side),
                                             [face.box for face in faces])
        self._watch.remember()
        quiet = self._fruitless >= QUIET_SEARCHES and not self._changed
        return self._since_search >= (QUIET_SEARCH_EVERY if quiet else SEARCH_EVERY)

    def _find(self, image: np.ndarray) -> list[ReadSquare]:
        """Faces in the whole frame, and in one of its quarter tiles (a different one each
        search): the short-range detector sees the whole frame at 128 pixels, where a face
        a quarter of a 720p frame high (two or four people on camera) is too small for it."""
        tile = quarter_tiles(image.shape)[self._searches % 4]
        self._searches += 1
        found = self._found_in(image, 0, 0)
        return found + _unseen(self._found_in(image[tile[1]:tile[3], tile[0]:tile[2]], tile[0], tile[1]), found)

    def _found_in(self, image: np.ndarray, x0: int, y0: int) -> list[ReadSquare]:
        """The detector reads the image at 128 pixels: it is handed SEARCH_SIDE (bilinear, as
        mediapipe's own resize), not the whole frame, whose conversion and copy cost 0.5 ms
        of a search's 1.9 at 720p."""
        height, width = image.shape[:2]
        small = fit_within(image, SEARCH_SIDE, cv2.INTER_LINEAR)
        rects = self._search.process({"image": rgb(small)}).rois or ()
        return [ReadSquare.from_rect(rect, x0, y0, width, height) for rect in rects]

    def _read(self, image: np.ndarray, squares: list[ReadSquare]) -> tuple[list[DetectedFace], list[ReadSquare]]:
        """The mesh in each square, and the square to read it in on the next frame; a face
        the model no longer sees is left out of both."""
        inputs, boxes = [], []
        for square in squares:
            box = square.crop(image.shape)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            # normalized coordinates are the same on the scaled crop
            crop = fit_within(image[y0:y1, x0:x1], CROP_MAX_SIDE, cv2.INTER_LINEAR)
            inputs.append((rgb(crop), square.rect(x0, y0, x1 - x0, y1 - y0)))
            boxes.append(box)
        faces, following = [], []
        for (x0, y0, x1, y1), (landmarks, next_rect) in zip(boxes, self._landmarks.read(inputs)):
            if landmarks is None:
                continue
            width, height = x1 - x0, y1 - y0
            points = normalized_points(landmarks)
            points *= np.array([width, height], dtype=np.float32)
            points += np.array([x0, y0], dtype=np.float32)
            faces.append(DetectedFace(points))
            following.append(ReadSquare.from_rect(next_rect, x0, y0, width, height))
        return faces, following

    def close(self) -> None:
        self._landmarks.close()
        self._search.close()


class FaceMeshDetector:
    """Faces and their meshes. static=True for photos (mediapipe's own graph, detecting on
    every call), False for video (_FollowedFaces: frames must come from one stream, in order)."""

    def __init__(self, max_faces: int = 4, static: bool = False):
        self.max_faces = max_faces
        self.static = static
        if static:
            self._graph = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True,
                min_detection_confidence=0.5, min_tracking_confidence=0.5)
        else:
            self._graph = _FollowedFaces(max_faces)

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces in a BGR or BGRA image, largest first."""
        height, width = image.shape[:2]
        if min(height, width) < MIN_FRAME_SIDE:
            return []
        if not self.static:
            return self._graph.detect(image)
        result = self._graph.process(rgb(fit_within(image, DETECT_MAX_SIDE, cv2.INTER_LINEAR)))
        faces = []
        for landmarks in result.multi_face_landmarks or ():
            points = normalized_points(landmarks)
            points *= np.array([width, height], dtype=np.float32)
            faces.append(DetectedFace(points))
        faces.sort(key=lambda face: -face.size)
        return faces

    def close(self) -> None:
        self._graph.close()
