"""The neural engine end to end on stand-in recognizer/swapper models (the real ones cannot
be downloaded here) and the real SCRFD-500M detector: sources, face mapping, paste-back
inside boxes only, options, and every user-facing failure."""

from __future__ import annotations

import numpy as np
import pytest

from testkit.judge import media, read_frames
from faceswap_core.engines import ENGINES, create_engine
from faceswap_core.errors import FaceSwapError
from faceswap_core.options import SwapOptions
from faceswap_core.vision.photo import load_photo

SAME_PERSON = 0.15  # stand-in recognizer: same face ~0.01, different faces >= 0.33


def _engine(model_paths, options=None, **kwargs):
    return create_engine("neural", options or SwapOptions(smoothing=0.0), model_paths=model_paths, **kwargs)


def _outside_boxes_unchanged(before, after, boxes):
    keep = np.ones(before.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        keep[y0:y1, x0:x1] = False
    return np.array_equal(before[keep], after[keep])


def _changed(before, after, box) -> float:
    x0, y0, x1, y1 = box
    return float(np.abs(before[y0:y1, x0:x1].astype(int) - after[y0:y1, x0:x1].astype(int)).mean())


def _face_box(engine, image, index):
    face = engine.detect(image)[index]
    return face.int_box(image.shape[1], image.shape[0])


def test_registered_as_neural():
    assert ENGINES["neural"][:2] == (".neural", "NeuralEngine")


def test_swaps_every_frame_inside_the_face_box_only(model_paths):
    engine = _engine(model_paths)
    info = engine.set_source_file(str(media("fr_obama.jpg")))
    assert info.faces_found == 1 and info.box[2] > info.box[0]
    frames = read_frames(media("lp_d12.mp4"), limit=12)
    for index, frame in enumerate(frames):
        out = engine.process(frame, index / 25)
        report = engine.last_report
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert len(report.boxes) == 1
        assert _outside_boxes_unchanged(frame, out, report.boxes)
        assert _changed(frame, out, report.boxes[0]) > 3.0
        for stage in ("detect", "align", "swap", "paste_warp", "blend", "total"):
            assert stage in report.stage_ms


def _worn_all_along(model_paths, photos: list[str], frames: list) -> dict[str, list]:
    """Each photo's outputs for the frames, an engine wearing it from the first frame."""
    outputs = {}
    for photo in photos:
        engine = _engine(model_paths)
        try:
            engine.set_source_file(photo)
            outputs[photo] = [engine.process(frame, index / 25) for index, frame in enumerate(frames)]
        finally:
            engine.close()
    return outputs


def test_a_face_prepared_before_is_worn_on_the_very_next_frame(model_paths):
    """A streamer's list of faces on the neural engine: switching to a face prepared
    earlier makes no identity again and the very next frame wears it, as it would have
    had it been worn all along."""
    frames = read_frames(media("lp_d12.mp4"), limit=8)
    photos = [str(media("fr_obama.jpg")), str(media("if_t1.jpg"))]
    worn_all_along = {photo: outputs[-1] for photo, outputs in _worn_all_along(model_paths, photos, frames).items()}
    engine = _engine(model_paths)
    try:
        engine.set_source_file(photos[1])
        engine.set_source_file(photos[0])
        for index, frame in enumerate(frames[:-1]):
            engine.process(frame, index / 25)
        prepare = engine._prepare_source
        calls = []
        engine._prepare_source = lambda *a: calls.append(a) or prepare(*a)
        engine.set_source_file(photos[1])
        switched = engine.process(frames[-1], (len(frames) - 1) / 25)
        assert calls == [] and engine.last_report.boxes
        box = engine.last_report.boxes[0]
        assert _changed(worn_all_along[photos[1]], switched, box) < 0.5 < _changed(worn_all_along[photos[0]], switched, box)
    finally:
        engine.close()


def test_a_face_switch_fades_from_one_identity_to_the_other(model_paths):
    """Cross-fade 200 ms at 25 fps on the neural engine: mid-fade the frame is the blend
    of the two identities' swaps of it (each as if worn all along), then the new one."""
    frames = read_frames(media("lp_d12.mp4"), limit=10)
    photos = [str(media("fr_obama.jpg")), str(media("if_t1.jpg"))]
    alone = _worn_all_along(model_paths, photos, frames)
    engine = _engine(model_paths, SwapOptions(smoothing=0.0, switch_fade_ms=200))
    try:
        engine.set_source_file(photos[1])
        engine.set_source_file(photos[0])
        shown = []
        for index, frame in enumerate(frames):
            if index == 4:
                engine.set_source_file(photos[1])
            shown.append(engine.process(frame, index / 25))
        for index, weight in ((3, 0.0), (4, 0.0), (5, 0.2), (7, 0.6), (9, 1.0)):
            expected = (alone[photos[0]][index].astype(float) * (1 - weight) + alone[photos[1]][index] * weight)
            assert np.abs(shown[index] - expected).max() <= 1.5, (index, weight)
    finally:
        engine.close()


def test_bgra_frames_keep_alpha_and_shape(model_paths):
    engine = _engine(model_paths)
    engine.set_source_file(str(media("fr_obama.jpg")))
    frame = read_frames(media("lp_d18.mp4"), limit=1)[0]
    bgra = np.dstack([frame, np.full(frame.shape[:2], 77, np.uint8)])
    out = engine.process(bgra, 0.0)
    assert out.shape == bgra.shape
    assert np.all(out[:, :, 3] == 77)
    np.testing.assert_array_equal(out[:, :, :3], engine.process(frame, 10.0))


def test_options_mouth_mask_opacity_and_disable(model_paths):
    frame = read_frames(media("lp_d18.mp4"), limit=1)[0]
    results = {}
    for name, options in {"full": SwapOptions(smoothing=0.0, mouth_mask=False),
                          "mouth": SwapOptions(smoothing=0.0, mouth_mask=True),
                          "clear": SwapOptions(smoothing=0.0, opacity=0.0),
                          "off": SwapOptions(enabled=False)}.items():
        engine = _engine(model_paths, options)
        engine.set_source_file(str(media("fr_obama.jpg")))
        results[name] = engine.process(frame, 0.0)
    face = engine.detect(frame)[0]
    mouth = face.keypoints[3:5].mean(axis=0).astype(int)
    x, y = mouth
    patch = (slice(y - 3, y + 4), slice(x - 3, x + 4))
    assert np.abs(results["full"][patch].astype(int) - frame[patch]).mean() > 3.0
    assert np.abs(results["mouth"][patch].astype(int) - frame[patch]).mean() < 1.0  # the target's own mouth
    np.testing.assert_array_equal(results["clear"], frame)
    np.testing.assert_array_equal(results["off"], frame)


def test_no_source_or_no_face_leaves_the_frame_alone(model_paths):
    engine = _engine(model_paths)
    frame = read_frames(media("lp_d19.mp4"), limit=1)[0]
    np.testing.assert_array_equal(engine.process(frame, 0.0), frame)  # no source yet
    engine.set_source_file(str(media("fr_obama.jpg")))
    blank = np.full((360, 640, 3), 90, np.uint8)
    np.testing.assert_array_equal(engine.process(blank, 0.0), blank)
    assert engine.last_report.boxes == []


def test_source_photo_errors(model_paths, tmp_path):
    engine = _engine(model_paths)
    with pytest.raises(FaceSwapError, match="No face"):
        engine.set_source(np.full((400, 400, 3), 128, np.uint8))
    with pytest.raises(FaceSwapError, match="face index from 0 to 1"):
        engine.set_source_file(str(media("fr_two_people.jpg")), face_index=2)
    with pytest.raises(FaceSwapError, match="face index must be 0 or more"):
        engine.set_source_file(str(media("fr_two_people.jpg")), face_index=-1)
    with pytest.raises(FaceSwapError, match="does not exist"):
        engine.set_source_file(str(tmp_path / "missing.jpg"))
    assert not engine.has_source


def test_a_turned_source_face_gets_the_front_facing_tip(model_paths):
    """From SCRFD's five keypoints: a frontal photo gets no tip, if_t1.jpg's profile face does."""
    engine = _engine(model_paths)
    assert engine.set_source_file(str(media("fr_obama.jpg"))).tips == ()
    group = str(media("if_t1.jpg"))
    tips = [engine.set_source_file(group, index).tips for index in range(len(engine.detect(load_photo(group))))]
    assert any("front-facing" in " ".join(tip) for tip in tips)
    assert any(tip == () for tip in tips)


def test_detection_is_reused_while_faces_barely_move(model_paths):
    engine = _engine(model_paths, redetect_after=0.5)
    engine.set_source_file(str(media("fr_obama.jpg")))
    calls = []
    original = engine.detector.detect_arrays

    def counting(*args, **kwargs):  # instrumentation: the real detector still runs
        calls.append(1)
        return original(*args, **kwargs)

    engine.detector.detect_arrays = counting
    frame = read_frames(media("lp_d12.mp4"), limit=1)[0]
    for index in range(5):
        engine.process(frame, index * 0.04)
    assert len(calls) == 1  # same picture: detected once
    engine.process(frame, 1.0)
    assert len(calls) == 2  # too old: detected again
    moved = np.roll(frame, 40, axis=1)
    engine.process(moved, 1.04)
    assert len(calls) == 3  # the face moved: detected again
    engine.reset()
    engine.process(moved, 1.08)
    assert len(calls) == 4


def test_face_mapping_reference_swaps_only_that_person(model_paths):
    photo = load_photo(media("fr_two_people.jpg"))
    everyone = _engine(model_paths)
    everyone.set_source_file(str(media("fr_obama.jpg")))
    out_all = everyone.process(photo, 0.0)
    assert len(everyone.last_report.boxes) == 2

    only = _engine(model_paths, match_distance=SAME_PERSON)
    only.set_source_file(str(media("fr_obama.jpg")))
    only.set_reference(photo, face_index=1)
    out = only.process(photo, 0.0)
    assert len(only.last_report.boxes) == 1
    box0, box1 = _face_box(only, photo, 0), _face_box(only, photo, 1)
    assert _changed(photo, out, box0) < 0.5 < 3.0 < _changed(photo, out, box1)
    assert _changed(photo, out_all, box0) > 3.0


def test_face_mapping_pairs_give_each_person_their_source(model_paths):
    photo = load_photo(media("fr_two_people.jpg"))
    sources = [load_photo(media("fr_obama.jpg")), load_photo(media("dlib_2008_002506.jpg"))]
    singles = []
    for source in sources:
        engine = _engine(model_paths)
        engine.set_source(source)
        singles.append(engine.process(photo, 0.0))
    mapped = _engine(model_paths, match_distance=SAME_PERSON)
    assert not mapped.has_source
    mapped.add_pair(sources[0], photo, target_index=1)  # person 1 becomes Obama
    mapped.add_pair(sources[1], photo, target_index=0)  # person 0 becomes the dlib photo's face
    assert mapped.has_source
    out = mapped.process(photo, 0.0)
    assert len(mapped.last_report.boxes) == 2
    box0, box1 = _face_box(mapped, photo, 0), _face_box(mapped, photo, 1)
    x0, y0, x1, y1 = box1
    np.testing.assert_array_equal(out[y0:y1, x0:x1], singles[0][y0:y1, x0:x1])
    x0, y0, x1, y1 = box0
    np.testing.assert_array_equal(out[y0:y1, x0:x1], singles[1][y0:y1, x0:x1])
    assert _changed(singles[0], singles[1], box0) > 1.0  # the two sources really differ there


def test_missing_and_damaged_models_say_how_to_fix(tmp_path):
    with pytest.raises(FaceSwapError, match=f"missing in .*faceswap models install det_10g w600k_r50 inswapper_128 --dir {tmp_path}"):
        create_engine("neural", model_dir=str(tmp_path))
    (tmp_path / "det_10g.onnx").write_bytes(b"x" * 100)
    with pytest.raises(FaceSwapError, match="damaged .det_10g.onnx. or missing.*install --force det_10g w600k"):
        create_engine("neural", model_dir=str(tmp_path))
    with pytest.raises(FaceSwapError, match="inswapper_128_fp16"):
        create_engine("neural", model_dir=str(tmp_path), precision="fp16")


def test_unloadable_model_file_says_how_to_fix(model_paths, tmp_path):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"not an onnx file" * 64)
    with pytest.raises(FaceSwapError, match="faceswap models install --force"):
        create_engine("neural", model_paths={**model_paths, "recognizer": str(bad)})
    with pytest.raises(FaceSwapError, match="could not be read|could not be loaded"):
        create_engine("neural", model_paths={**model_paths, "swapper": str(bad)})


def test_wrong_model_in_a_role_is_refused(model_paths):
    with pytest.raises(FaceSwapError, match="SCRFD"):
        create_engine("neural", model_paths={**model_paths, "detector": model_paths["recognizer"]})
    with pytest.raises(FaceSwapError, match="inswapper"):
        create_engine("neural", model_paths={**model_paths, "swapper": model_paths["recognizer"]})


def test_bad_arguments(model_paths):
    with pytest.raises(FaceSwapError, match="Unknown face mapping"):
        _engine(model_paths, face_mapping="some")
    with pytest.raises(FaceSwapError, match="multiple of 32"):
        _engine(model_paths, det_size=300)
    with pytest.raises(FaceSwapError, match="Unknown execution provider"):
        _engine(model_paths, provider="quantum")
    with pytest.raises(FaceSwapError, match="precision"):
        create_engine("neural", precision="int3")
    engine = _engine(model_paths)
    with pytest.raises(FaceSwapError, match="8-bit BGR"):
        engine.process(np.zeros((10, 10), np.uint8))


def test_identities_are_matched_once_per_detection(model_paths):
    photo = load_photo(media("fr_two_people.jpg"))
    engine = _engine(model_paths, match_distance=SAME_PERSON)
    engine.set_source_file(str(media("fr_obama.jpg")))
    engine.set_reference(photo, face_index=0)
    runs = engine.recognizer.session.runs
    first = engine.process(photo, 0.0)
    assert engine.recognizer.session.runs == runs + 1  # one batch for both faces
    np.testing.assert_array_equal(engine.process(photo, 0.04), first)  # detection reused: no new embedding
    assert engine.recognizer.session.runs == runs + 1
    engine.set_reference(photo, face_index=1)  # a new reference: matched again
    second = engine.process(photo, 0.08)
    assert not np.array_equal(first, second)


def test_max_faces_and_faces_cut_by_the_frame_edge(model_paths):
    photo = load_photo(media("fr_two_people.jpg"))
    engine = _engine(model_paths, SwapOptions(smoothing=0.0, max_faces=1))
    engine.set_source_file(str(media("fr_obama.jpg")))
    out = engine.process(photo, 0.0)
    assert len(engine.last_report.boxes) == 1
    (x0, y0, x1, y1), faces = engine.last_report.boxes[0], engine.detect(photo)
    centres = [((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in faces]
    assert x0 < centres[0][0] < x1 and y0 < centres[0][1] < y1  # the largest face ...
    assert not (x0 < centres[1][0] < x1 and y0 < centres[1][1] < y1)  # ... only
    assert _outside_boxes_unchanged(photo, out, engine.last_report.boxes)
    # a face half out of the frame: swapped inside what is visible, nothing else touched
    frame = read_frames(media("lp_d18.mp4"), limit=1)[0]
    face = engine.detect(frame)[0]
    cut = np.ascontiguousarray(frame[:, int((face.box[0] + face.box[2]) / 2) - 30:])
    engine.reset()
    out = engine.process(cut, 5.0)
    assert out.shape == cut.shape
    assert len(engine.last_report.boxes) == 1 and engine.last_report.boxes[0][0] == 0
    assert _outside_boxes_unchanged(cut, out, engine.last_report.boxes)


def test_lens_regions_from_five_keypoints_cover_the_eyes_and_brows_not_the_mouth():
    """The neural engine has no eye corners: its lens regions (where the colour correction
    discounts reflections on glasses) come from the eye keypoints and the eyes' distance."""
    import cv2

    from faceswap_core.neural.paste import lens_polygons, paste_geometry

    keypoints = np.array([[200, 200], [300, 200], [250, 260], [212, 310], [288, 310]], np.float32)
    drawn = np.zeros((500, 500), np.uint8)
    cv2.fillPoly(drawn, [np.round(p).astype(np.int32) for p in lens_polygons(keypoints)], 1)
    for x, y in ((200, 200), (300, 200), (200, 172), (300, 172), (170, 200), (330, 200)):  # eyes, brows, outer corners
        assert drawn[y, x], (x, y)
    assert not drawn[310, 250] and not drawn[260, 250]                                      # mouth, nose tip
    matrix = np.float32([[1, 0, -150], [0, 1, -150]])
    assert paste_geometry(matrix, keypoints, 200, (500, 500, 3), SwapOptions()).lenses.max() == 1.0
    assert paste_geometry(matrix, keypoints, 200, (500, 500, 3), SwapOptions(colour_correction=False)).lenses is None
