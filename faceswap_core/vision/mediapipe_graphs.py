"""Mediapipe's own subgraphs (its models, its crop and ROI rules), run from small graphs of ours.

Mediapipe's solutions (FaceMesh, Hands) each wrap a whole graph for a whole frame: a
detector on every frame where fewer than their maximum are tracked, outputs converted to
Python whether used or not, and the frame copied for a model that reads a 192- or 224-pixel
square. The video paths (vision.face_mesh, vision.hands) instead run the landmark subgraph
on a crop around what they follow, and the detector subgraph only when they search; this
module holds what both need to do that.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")       # what of mediapipe's logging this reaches;
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # the rest: faceswap_core.native_logs

import mediapipe as mp  # noqa: E402
from google.protobuf import text_format  # noqa: E402
from mediapipe.framework import calculator_pb2  # noqa: E402
from mediapipe.framework.formats import rect_pb2  # noqa: E402
from mediapipe.python import packet_creator, packet_getter  # noqa: E402
from mediapipe.python._framework_bindings import calculator_graph, image_frame, resource_util  # noqa: E402

MIN_CROP_SIDE = 32   # a landmark model's crop smaller than this holds nothing it would find


def landmark_graph(landmarks: str, to_roi: str, side_packet: str) -> str:
    """A graph that reads one crop: mediapipe's landmark subgraph `landmarks` (its one side
    packet "TAG:name") on the image's ROI, and, by `to_roi`, the ROI to read the same thing
    in on the next frame. Inputs "image", "roi"; outputs "landmarks", "next_roi"."""
    return f"""
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "next_roi"
node {{ calculator: "{landmarks}" input_stream: "IMAGE:image" input_stream: "ROI:roi"
       input_side_packet: "{side_packet}" output_stream: "LANDMARKS:landmarks" }}
node {{ calculator: "ImagePropertiesCalculator" input_stream: "IMAGE:image" output_stream: "SIZE:size" }}
node {{ calculator: "{to_roi}" input_stream: "LANDMARKS:landmarks"
       input_stream: "IMAGE_SIZE:size" output_stream: "ROI:next_roi" }}
"""


def search_graph(detector: str, to_roi: str, side_packet: str | None = None) -> str:
    """A graph that searches a whole image: mediapipe's detector subgraph `detector` (with
    its side packet "TAG:name", if it takes one), each detection made a landmark model's ROI
    by `to_roi`. Input "image"; output "rois"."""
    side = f'input_side_packet: "{side_packet}" ' if side_packet else ""
    declared = f'input_side_packet: "{side_packet.split(":")[1]}"' if side_packet else ""
    return f"""
input_stream: "image"
{declared}
output_stream: "rois"
node {{ calculator: "{detector}" input_stream: "IMAGE:image" {side}output_stream: "DETECTIONS:detections" }}
node {{ calculator: "ImagePropertiesCalculator" input_stream: "IMAGE:image" output_stream: "SIZE:size" }}
node {{ calculator: "BeginLoopDetectionCalculator" input_stream: "ITERABLE:detections" input_stream: "CLONE:size"
       output_stream: "ITEM:detection" output_stream: "CLONE:loop_size" output_stream: "BATCH_END:end" }}
node {{ calculator: "{to_roi}" input_stream: "DETECTION:detection"
       input_stream: "IMAGE_SIZE:loop_size" output_stream: "ROI:roi" }}
node {{ calculator: "EndLoopNormalizedRectCalculator" input_stream: "ITEM:roi" input_stream: "BATCH_END:end"
       output_stream: "ITERABLE:rois" }}
"""


def graph_config(text: str) -> calculator_pb2.CalculatorGraphConfig:
    return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())


def rgb(image: np.ndarray) -> np.ndarray:
    """What mediapipe's image packets hold, from a BGR or BGRA image."""
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)


class LandmarkReader:
    """A landmark graph (inputs "image" and "roi", outputs "landmarks" and "next_roi"),
    given every crop of a frame before it is waited on once: mediapipe's threads then
    prepare one crop while the model reads another (SolutionBase waits after each input;
    four faces took 1.2 ms longer that way)."""

    def __init__(self, graph_text: str, side_packets: dict | None = None):
        # where the graph's model loader finds mediapipe's .tflite files: SolutionBase sets
        # it when one is made, but this graph is not one, and it opens its model when its
        # run starts (on mediapipe's threads: made first in a process, it failed or not
        # depending on which thread came first)
        resource_util.set_resource_dir(os.path.dirname(os.path.dirname(os.path.abspath(mp.__file__))))
        self._graph = calculator_graph.CalculatorGraph(graph_config=graph_config(graph_text))
        self._outputs: dict[tuple[str, int], object] = {}   # written by mediapipe's threads while read() waits
        for stream in ("landmarks", "next_roi"):
            self._graph.observe_output_stream(stream, self._keep, True)
        self._graph.start_run(side_packets or {})
        self._timestamp = 0

    def _keep(self, stream: str, packet) -> None:
        if not packet.is_empty():
            self._outputs[(stream, packet.timestamp.value)] = packet

    def read(self, inputs: list[tuple[np.ndarray, rect_pb2.NormalizedRect]]) -> list[tuple[object, object]]:
        """(landmarks, next square) for each (RGB image, square) given; None, None where the
        model sees nothing it reads."""
        self._outputs.clear()
        stamps = []
        for image, rect in inputs:
            self._timestamp += 1
            stamps.append(self._timestamp)
            self._graph.add_packet_to_input_stream(
                "image", packet_creator.create_image_frame(image_format=image_frame.ImageFormat.SRGB,
                                                           data=image).at(self._timestamp))
            self._graph.add_packet_to_input_stream("roi", packet_creator.create_proto(rect).at(self._timestamp))
        if stamps:
            self._graph.wait_until_idle()
        found = []
        for stamp in stamps:
            landmarks, square = (self._outputs.get((stream, stamp)) for stream in ("landmarks", "next_roi"))
            found.append((packet_getter.get_proto(landmarks), packet_getter.get_proto(square))
                         if landmarks is not None and square is not None else (None, None))
        return found

    def close(self) -> None:
        self._graph.close()


@dataclass(frozen=True)
class ReadSquare:
    """Where a landmark model reads a face or a hand: a rotated square, in frame pixels
    (mediapipe's normalized rect, made independent of the image it was measured on, so the
    next frame's crop may be another)."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float

    @classmethod
    def from_rect(cls, rect, x0: float, y0: float, width: int, height: int) -> "ReadSquare":
        return cls(x0 + rect.x_center * width, y0 + rect.y_center * height,
                   rect.width * width, rect.height * height, rect.rotation)

    def rect(self, x0: int, y0: int, width: int, height: int) -> rect_pb2.NormalizedRect:
        return rect_pb2.NormalizedRect(x_center=(self.cx - x0) / width, y_center=(self.cy - y0) / height,
                                       width=self.width / width, height=self.height / height,
                                       rotation=self.rotation)

    def crop(self, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        """x0, y0, x1, y1: the frame's pixels the rotated square reaches, or None off the frame."""
        cos, sin = abs(math.cos(self.rotation)), abs(math.sin(self.rotation))
        reach_x = (self.width * cos + self.height * sin) / 2 + 2
        reach_y = (self.width * sin + self.height * cos) / 2 + 2
        x0, y0 = max(0, int(self.cx - reach_x)), max(0, int(self.cy - reach_y))
        x1, y1 = min(shape[1], int(self.cx + reach_x) + 1), min(shape[0], int(self.cy + reach_y) + 1)
        return (x0, y0, x1, y1) if x1 - x0 >= MIN_CROP_SIDE and y1 - y0 >= MIN_CROP_SIDE else None

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The upright box (x0, y0, x1, y1) around the centre, ignoring the rotation (as
        mediapipe associates squares)."""
        return (self.cx - self.width / 2, self.cy - self.height / 2,
                self.cx + self.width / 2, self.cy + self.height / 2)


_LANDMARK_RECORD = 17   # bytes of one serialized landmark with x, y and z: 0a 0f, then 0d x, 15 y, 1d z


def normalized_points(landmarks, depth: bool = False) -> np.ndarray:
    """(N, 2) float32 x, y of a NormalizedLandmarkList, (N, 3) with z where depth is asked
    for. Read from its serialized bytes where every landmark has exactly x, y and z (the
    face mesh's and the hands' do): 0.01 ms against 0.16 ms for reading 478 protobuf fields
    one by one in Python; field by field otherwise."""
    raw = np.frombuffer(landmarks.SerializeToString(), dtype=np.uint8)
    count = len(landmarks.landmark)
    if count and raw.size == count * _LANDMARK_RECORD:
        records = raw.reshape(count, _LANDMARK_RECORD)
        if (records[:, :3] == (0x0A, 0x0F, 0x0D)).all() and (records[:, [7, 12]] == (0x15, 0x1D)).all():
            fields = (3, 8, 13) if depth else (3, 8)
            return np.stack([records[:, at:at + 4].copy().view("<f4")[:, 0] for at in fields], axis=1)
    if depth:
        return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)
    return np.array([(p.x, p.y) for p in landmarks.landmark], dtype=np.float32)
