"""A user-brought occlusion model beside the built-in search for what is in front of the
face, on the neural engine, in both families it takes (XSeg, face parsing): stand-in
models (no real XSeg or BiSeNet weights can be downloaded here) that call blue "covered"
and skin "the face", the real SCRFD-500M, and the stand-in swapper."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap_core.engines import create_engine
from faceswap_core.errors import FaceSwapError
from faceswap_core.options import SwapOptions
from testkit import standins
from testkit.judge import media, read_frames

FAMILIES = {"xseg": standins.build_occluder, "face parsing": standins.build_face_parser}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def occluder(request, tmp_path_factory):
    return request.param, str(FAMILIES[request.param](tmp_path_factory.mktemp("occluder") / "own.onnx"))


def _blue_spot(frame: np.ndarray, engine) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The frame with a blue square on the cheek, well inside the face: the built-in search
    keeps only what comes in from the face's edge, so only the model can keep this."""
    face = engine.detect(frame)[0]
    left_eye, _, nose = face.keypoints[:3]
    x, y = int((left_eye[0] + nose[0]) / 2), int(nose[1])
    side = max(6, int(0.12 * (face.box[2] - face.box[0])))
    spot = (slice(y - side // 2, y + side // 2), slice(x - side // 2, x + side // 2))
    painted = frame.copy()
    painted[spot] = (200, 60, 40)
    return painted, spot


def test_the_occlusion_model_keeps_what_it_finds(model_paths, occluder):
    family, path = occluder
    frame = read_frames(media("lp_d19.mp4"), 1)[0]
    outputs = {}
    for own in ("", path):
        engine = create_engine("neural", SwapOptions(smoothing=0.0), model_paths=model_paths, occluder_file=own)
        engine.set_source_file(str(media("fr_obama.jpg")))
        painted, spot = _blue_spot(frame, engine)
        outputs[own] = (engine.process(painted, 0.0), engine.last_report, engine.notes)
        engine.close()
    kept, report, notes = outputs[path]
    unkept, plain_report, _ = outputs[""]
    moved = lambda output: np.abs(output[spot].astype(int) - painted[spot].astype(int)).mean()   # noqa: E731
    assert moved(unkept) > 20                  # the built-in search leaves a spot inside the face to the swap
    assert moved(kept) < 4, (family, moved(kept))        # the model keeps it
    assert "something in front" in report.in_front and plain_report.in_front == ""
    assert any("occlusion model" in note for note in notes)
    # the rest of the face is still swapped: the model's skin is the face
    face = engine.detect(frame)[0]
    x0, y0, x1, y1 = (int(v) for v in face.box)
    around = np.ones(frame.shape[:2], bool)
    around[spot] = False
    inside = np.zeros_like(around)
    inside[y0:y1, x0:x1] = True
    changed = lambda output: (np.abs(output.astype(int) - painted.astype(int)).max(axis=2) > 20)[inside & around].mean()   # noqa: E731
    assert changed(kept) > 0.8 * changed(unkept), (family, changed(kept), changed(unkept))


def test_a_file_that_is_no_occlusion_model_is_refused_with_what_to_do(model_paths, tmp_path, swapper_model):
    flat = standins.build_occluder(tmp_path / "flat.onnx", shape=(1, 256, 256))
    few = standins.build_face_parser(tmp_path / "few.onnx", classes=11)
    for path, words in ((flat, "does not fit an occlusion model (XSeg)"),
                        (few, "does not fit an occlusion model (face parsing)"),
                        (swapper_model, "does not fit an occlusion model")):
        with pytest.raises(FaceSwapError) as error:
            create_engine("neural", model_paths=model_paths, occluder_file=str(path))
        assert words in str(error.value) and "--occluder" in str(error.value), str(error.value)
