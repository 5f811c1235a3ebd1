"""The face enhancer beside the swap: catalogued restorers, the restorer model family, and
detail that is computed off the frame path and laid onto later frames by alignment.
Stand-in restorers of the real signature (the real GFPGAN/GPEN files cannot be downloaded
here) and the real SCRFD-500M detector."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from faceswap_core import model_catalog as catalog
from faceswap_core.engines import create_engine
from faceswap_core.errors import FaceSwapError
from faceswap_core.neural.enhance_behind import BackgroundEnhancer, face_mask, lay_detail
from faceswap_core.neural.enhancer import FaceEnhancer
from faceswap_core.neural.providers import ModelSession
from faceswap_core.options import SwapOptions
from faceswap_core.vision.photo import load_photo
from testkit import standins, torch_check
from testkit.judge import media

OFFSET = 0.3   # the stand-in restorer raises every value by this (in [-1, 1]): +38 levels


@pytest.fixture(scope="module")
def enhancer_file(standin_dir):
    return standins.build_enhancer(standin_dir / "my_gpen_512.onnx", offset=OFFSET)


def _wait(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def test_catalogue_has_the_restorers_with_their_licences():
    gfpgan, gpen256, gpen512 = (catalog.find(name) for name in ("gfpgan_1.4", "gpen_bfr_256", "gpen_bfr_512"))
    assert {m.role for m in (gfpgan, gpen256, gpen512)} == {"enhancer"}
    assert not gfpgan.non_commercial and "Apache-2.0" in gfpgan.license
    assert gpen256.non_commercial and gpen512.non_commercial   # the installer asks before these
    for model in (gfpgan, gpen256, gpen512):
        assert len(model.sha256) == 64 and model.bytes > 50_000_000 and model.url.endswith(model.filename)


def test_restorer_family_aligns_and_round_trips(enhancer_file):
    enhancer = FaceEnhancer(ModelSession(str(enhancer_file)), "ffhq")
    assert enhancer.size == 512
    enhancer.check()
    crop = np.full((512, 512, 3), 100, np.uint8)
    assert abs(int(enhancer.enhance(crop)[0, 0, 0]) - (100 + round(OFFSET * 127.5))) <= 1
    keypoints = enhancer.template / 4 + 50          # a face a quarter of the template's size
    matrix = enhancer.matrix(keypoints)
    mapped = keypoints @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, enhancer.template, atol=1e-3)


@pytest.mark.parametrize("channels", [3, 4])
def test_lay_detail_adds_inside_the_face_only(channels):
    frame = np.full((300, 400, channels), 50, np.uint8)
    matrix = np.array([[2.0, 0.0, -200.0], [0.0, 2.0, -100.0]])   # the 512 crop covers x 100-356, y 50-306
    detail = (np.full((512, 512, 3), 40.0, np.float32) * face_mask(512)[:, :, None]).round().astype(np.int16)
    lay_detail(frame, matrix, detail, 0.5)
    centre = frame[50 + int(0.52 * 256), 100 + 128]
    assert np.all(centre[:3] == 70)                     # 50 + 0.5 * 40 where the mask is 1
    corners = frame[50:60, 100:110]                     # outside the disc
    assert np.all(corners == 50) and np.all(frame[:, :100] == 50) and np.all(frame[:50] == 50)
    if channels == 4:
        assert np.all(frame[:, :, 3] == 50)             # alpha untouched


class _HeldRestorer:
    """A restorer that holds each face until released: shows the frame path never waits."""

    size = 512

    def __init__(self):
        self.release = threading.Event()

    def enhance(self, crop):
        self.release.wait(30)
        return np.clip(crop.astype(np.int16) + 20, 0, 255).astype(np.uint8)


def test_background_enhancer_never_holds_the_caller():
    held = _HeldRestorer()
    behind = BackgroundEnhancer(lambda: held)
    try:
        _wait(lambda: behind.free)
        crop = np.full((512, 512, 3), 10, np.uint8)
        assert behind.offer(0, crop)
        assert not behind.offer(0, crop) and not behind.free      # busy: the newest face waits for the next turn
        assert behind.detail(0) is None
        held.release.set()
        _wait(lambda: behind.detail(0) is not None)
        mask = behind.mask[:, :, 0]
        assert np.abs(behind.detail(0)[:, :, 0] - 20 * mask).max() <= 0.5 and behind.results == 1 and behind.free
        behind.forget()
        assert behind.detail(0) is None
    finally:
        held.release.set()
        behind.close()


PATHS = [pytest.param({}, id="host"),
         pytest.param({"runtime": "torch", "device": "cpu"}, id="device",
                      marks=pytest.mark.skipif(torch_check.missing() is not None,
                                               reason=f"the device path needs torch: {torch_check.missing()}"))]


@pytest.mark.parametrize("place", PATHS)
def test_engine_lays_restored_detail_on_later_frames(model_paths, enhancer_file, place):
    """On the host path and on the device path (PyTorch keeping the frame; its CPU build here)."""
    frame = load_photo(media("fr_obama.jpg"))
    plain = create_engine("neural", SwapOptions(smoothing=0.0), model_paths=model_paths, **place)
    plain.set_source_file(str(media("dlib_2008_002506.jpg")))
    swapped = plain.process(frame, 0.0)
    options = SwapOptions(smoothing=0.0, enhancer="gpen_bfr_512", enhancer_blend=0.5)
    engine = create_engine("neural", options, model_paths=model_paths, enhancer_file=str(enhancer_file), **place)
    engine.set_source_file(str(media("dlib_2008_002506.jpg")))
    try:
        _wait(lambda: engine._behind.free)
        first = engine.process(frame, 0.0)
        np.testing.assert_array_equal(first, swapped)         # nothing restored yet: the swap alone, at once
        _wait(lambda: engine._behind.results >= 1)
        later = engine.process(frame, 0.04)
        x0, y0, x1, y1 = engine.last_report.boxes[0]
        lifted = later.astype(int) - swapped.astype(int)
        face = lifted[(y0 + y1) // 2 - 20:(y0 + y1) // 2 + 20, (x0 + x1) // 2 - 20:(x0 + x1) // 2 + 20]
        assert abs(face.mean() - 0.5 * OFFSET * 127.5) < 4, face.mean()   # half of the +38 levels
        outside = np.ones(frame.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert not lifted[outside].any()
        assert "enhance" in engine.last_report.stage_ms and "gpen_bfr_512 enhancer" in engine.describe()
        engine.set_options(SwapOptions(smoothing=0.0, enhancer="off"))
        np.testing.assert_array_equal(engine.process(frame, 0.08), swapped)
    finally:
        engine.close()


def test_enhancer_not_installed_or_not_fitting_is_a_note_and_the_swap_goes_on(model_paths, tmp_path, standin_dir):
    frame = load_photo(media("fr_obama.jpg"))
    cases = {"gfpgan_1.4": ("", "faceswap models install gfpgan_1.4"),
             "gpen_bfr_256": (str(standins.build_recognizer(standin_dir / "not_a_restorer.onnx")),
                              "does not fit a face restorer")}
    for name, (own, words) in cases.items():
        engine = create_engine("neural", SwapOptions(smoothing=0.0, enhancer=name), model_paths=model_paths,
                               model_dir=str(tmp_path), enhancer_file=own)
        engine.set_source_file(str(media("dlib_2008_002506.jpg")))
        try:
            _wait(lambda: engine._behind.error)
            out = engine.process(frame, 0.0)
            assert engine.last_report.boxes and not np.array_equal(out, frame)   # still swapped
            assert any(words in note for note in engine.notes), engine.notes
        finally:
            engine.close()


def test_a_still_picture_is_restored_before_it_is_returned(model_paths, enhancer_file, tmp_path):
    frame = load_photo(media("fr_obama.jpg"))
    plain = create_engine("neural", SwapOptions(smoothing=0.0), model_paths=model_paths)
    plain.set_source_file(str(media("dlib_2008_002506.jpg")))
    swapped = plain.process_image(frame)
    engine = create_engine("neural", SwapOptions(smoothing=0.0, enhancer="gpen_bfr_512", enhancer_blend=1.0),
                           model_paths=model_paths, enhancer_file=str(enhancer_file))
    engine.set_source_file(str(media("dlib_2008_002506.jpg")))
    try:
        restored = engine.process_image(frame)      # no waiting by the caller: the still comes back restored
        x0, y0, x1, y1 = engine.last_report.boxes[0]
        face = (restored.astype(int) - swapped.astype(int))[(y0 + y1) // 2 - 20:(y0 + y1) // 2 + 20,
                                                             (x0 + x1) // 2 - 20:(x0 + x1) // 2 + 20]
        assert abs(face.mean() - OFFSET * 127.5) < 4, face.mean()
    finally:
        engine.close()
    missing = create_engine("neural", SwapOptions(enhancer="gfpgan_1.4"), model_paths=model_paths,
                            model_dir=str(tmp_path))
    missing.set_source_file(str(media("dlib_2008_002506.jpg")))
    try:
        with pytest.raises(FaceSwapError, match="faceswap models install gfpgan_1.4"):
            missing.process_image(frame)
    finally:
        missing.close()
