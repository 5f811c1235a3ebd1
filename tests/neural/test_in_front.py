"""What is in front of the face stays in front on the neural engine's host path too: the
same hand-drawn occluders (testkit/occluders.json) and measure as the landmark engine's
tests (tests/vision/test_in_front.py), with the stand-in swapper (the real inswapper
cannot be downloaded here) and the real SCRFD-500M detector. The device path draws the
same patch (tests/gpu/test_frame_path.py)."""

from __future__ import annotations

import cv2
import pytest

from faceswap_core.engines import create_engine
from faceswap_core.options import SwapOptions
from testkit import occluders
from testkit.judge import media, read_frames

OCCLUDED = [item for item in occluders.ITEMS if not item.get("control")]


def _swap(model_paths, item: dict, keep: bool):
    engine = create_engine("neural", SwapOptions(keep_in_front=keep), model_paths=model_paths)
    engine.set_source_file(str(media("fr_obama.jpg")))
    try:
        if item["frame"] is None:
            frame = cv2.imread(str(media(item["file"])))
            return frame, engine.process_image(frame), engine.last_report
        frames = read_frames(media(item["file"]), item["frame"] + 1)
        for index, frame in enumerate(frames):
            output = engine.process(frame, index / 30.0)
        return frames[-1], output, engine.last_report
    finally:
        engine.close()


@pytest.mark.parametrize("item", OCCLUDED, ids=occluders.label)
def test_a_hand_in_front_stays_in_front_on_the_neural_engine(model_paths, item, request):
    occluders.expect_known_miss(request, item, "neural_in_front")
    frame, unkept, report = _swap(model_paths, item, keep=False)
    if not report.boxes:
        pytest.skip(f"SCRFD-500M finds no face in {occluders.label(item)} (its face is about 30 px): nothing swapped")
    _, kept, kept_report = _swap(model_paths, item, keep=True)
    measured = occluders.Measured.of(item, frame, unkept, kept)
    assert measured.inside.sum() >= 50
    before, after = measured.inside_levels(kept=False), measured.inside_levels(kept=True)
    assert before.mean() > 10, before.mean()
    assert after.mean() <= occluders.limit(item) and (after > 20).mean() <= 0.10, (after.mean(), (after > 20).mean())
    assert measured.outside_swapped() >= 0.9
    assert "in front of the face" in kept_report.in_front and report.in_front == ""
    assert kept_report.stage_ms["hands"] > 0.0 and kept_report.stage_ms["in_front"] > 0.0
