"""Pixel boost: the swap at 256/512 px from inswapper_128 runs on sub-pixel tiles. The
stand-in swapper is per pixel, so a stand-in built for 256 px is the direct computation
the reassembled tiles must equal exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap_core.engines import create_engine
from faceswap_core.neural import pixel_boost
from faceswap_core.neural.alignment import estimate_norm
from faceswap_core.neural.providers import ModelSession
from faceswap_core.neural.swapper import InSwapper, read_emap
from faceswap_core.options import SwapOptions
from faceswap_core.vision.photo import load_photo
from testkit import standins
from testkit.judge import media, shared_model


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_tiles_are_the_sub_pixel_grids_and_interleave_back(factor):
    crop = np.random.default_rng(factor).integers(0, 256, (128 * factor, 128 * factor, 3), dtype=np.uint8)
    tiles = pixel_boost.to_tiles(crop, factor)
    assert tiles.shape == (factor * factor, 128, 128, 3)
    for i in range(factor):
        for j in range(factor):
            np.testing.assert_array_equal(tiles[i * factor + j], crop[i::factor, j::factor])
    np.testing.assert_array_equal(pixel_boost.from_tiles(tiles, factor), crop)


@pytest.mark.parametrize("factor", [2, 4])
def test_swapping_the_tiles_equals_the_direct_swap_at_the_larger_size(standin_dir, factor):
    small = standins.build_swapper(standin_dir / "boost_128.onnx")
    large = standins.build_swapper(standin_dir / f"boost_{128 * factor}.onnx", size=128 * factor)
    tiled = InSwapper(ModelSession(str(small)), read_emap(str(small)))
    direct = InSwapper(ModelSession(str(large)), read_emap(str(large)))
    photo = load_photo(media("fr_obama.jpg"))
    crop = cv2.resize(photo[60:460, 300:700], (128 * factor, 128 * factor))
    latent = tiled.latent(np.random.default_rng(5).normal(size=512))
    tiles = pixel_boost.to_tiles(crop, factor)
    swapped = pixel_boost.from_tiles(np.stack(tiled.run_many(list(tiles), [latent] * len(tiles))), factor)
    np.testing.assert_array_equal(swapped, direct.run(crop, latent))


def test_auto_picks_256_for_large_faces_and_the_user_choice_wins():
    keypoints = np.array([[100, 120], [160, 120], [130, 150], [105, 180], [155, 180]], np.float32)
    small, large = estimate_norm(keypoints * 0.5, 128), estimate_norm(keypoints * 2, 128)   # eyes 30, 120 px apart
    assert pixel_boost.factor_for("auto", small) == 1
    assert pixel_boost.factor_for("auto", large) == 2
    assert pixel_boost.factor_for("512", small) == 4 and pixel_boost.factor_for("128", large) == 1


def _sharpness(image, box):
    """Detail (variance of the Laplacian) in the middle half of a face's box: the face itself."""
    x0, y0, x1, y1 = box
    x0, y0, x1, y1 = (3 * x0 + x1) // 4, (3 * y0 + y1) // 4, (x0 + 3 * x1) // 4, (y0 + 3 * y1) // 4
    return float(cv2.Laplacian(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_boosted_faces_keep_more_detail_and_all_tiles_go_in_one_call(recognizer_model, standin_dir):
    batched = standins.build_swapper(standin_dir / "boost_batched.onnx", batch="N")
    paths = {"detector": str(shared_model("scrfd_500m_bnkps.onnx")), "recognizer": str(recognizer_model),
             "swapper": str(batched)}
    frame = load_photo(media("fr_two_people.jpg"))
    results = {}
    for boost in ("128", "256"):
        engine = create_engine("neural", SwapOptions(smoothing=0.0, pixel_boost=boost, mouth_mask=False),
                               model_paths=paths)
        engine.set_source_file(str(media("fr_obama.jpg")))
        runs = engine.swapper.session.runs
        results[boost] = engine.process(frame, 0.0)
        assert engine.swapper.session.runs == runs + 1       # both faces, all their tiles: one call
        boxes = engine.last_report.boxes
    assert len(boxes) == 2
    for box in boxes:
        assert _sharpness(results["256"], box) > 1.3 * _sharpness(results["128"], box)   # measured 1.5-1.7x
