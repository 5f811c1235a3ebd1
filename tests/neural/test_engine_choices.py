"""The neural engine's choices that issue 17 added: several photos of one person, the fp16
model's broken output answered by falling back to fp32, and model files the user brings.
Stand-in recognizer/swapper (the real ones cannot be downloaded here), the real SCRFD-500M
detector; the fp16 failure itself (GTX 16xx) cannot happen on this CPU, so stand-ins whose
output is NaN or one flat colour play it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap_core.engines import create_engine
from faceswap_core.errors import FaceSwapError
from faceswap_core.neural.recognizer import combine_embeddings, normalise
from faceswap_core.options import SwapOptions
from faceswap_core.vision.photo import load_photo
from testkit import standins
from testkit.judge import media


def _engine(model_paths, **kwargs):
    return create_engine("neural", SwapOptions(smoothing=0.0), model_paths=model_paths, **kwargs)


def test_combined_identity_is_the_normalised_mean_and_an_outlier_is_left_out():
    rng = np.random.default_rng(0)
    person = normalise(rng.normal(size=512))
    photos = normalise(np.stack([person + 0.3 * normalise(rng.normal(size=512)) for _ in range(3)]))
    stranger = normalise(rng.normal(size=512))
    combined, left_out = combine_embeddings(photos, 0.7)
    np.testing.assert_allclose(combined, normalise(photos.mean(axis=0)), atol=1e-6)
    assert left_out == []
    combined, left_out = combine_embeddings(np.vstack([photos, stranger]), 0.7)
    assert left_out == [3]
    np.testing.assert_allclose(combined, normalise(photos.mean(axis=0)), atol=1e-6)
    # measured against the chosen photo (the first): it always counts
    _, left_out = combine_embeddings(np.vstack([stranger, photos]), 0.7)
    assert left_out == [1, 2, 3]


def test_more_photos_of_the_same_person_average_and_a_stranger_is_named(model_paths, tmp_path):
    frame = load_photo(media("fr_two_people.jpg"))
    obama = str(media("fr_obama.jpg"))
    mirrored = tmp_path / "obama_smaller.png"    # the same person at another size (stand-in distance ~0.02)
    cv2.imwrite(str(mirrored), cv2.resize(load_photo(obama), None, fx=0.8, fy=0.8))
    single = _engine(model_paths)
    single.set_source_file(obama)
    several = _engine(model_paths, match_distance=0.15)   # stand-in recognizer: this stranger is 0.57 away
    info = several.set_source_file(obama, 0, [str(mirrored)])
    assert "identity averaged over 2 photos" in info.notes
    expected = normalise(single._default.embedding + several.recognizer.embed(
        load_photo(str(mirrored)), [several.detector.detect(load_photo(str(mirrored)))[0].keypoints])[0])
    np.testing.assert_allclose(several._default.embedding, expected, atol=1e-5)
    stranger = str(media("dlib_2008_002506.jpg"))
    info = several.set_source_file(obama, 0, [str(mirrored), stranger])
    assert any("dlib_2008_002506.jpg looks like another person" in note for note in info.notes), info.notes
    assert "identity averaged over 2 photos" in info.notes
    np.testing.assert_allclose(several._default.embedding, expected, atol=1e-5)   # the stranger changed nothing
    assert not np.array_equal(several.process(frame, 0.0), frame)


@pytest.mark.parametrize("failure", ["nan", "flat"])
def test_broken_fp16_output_passes_the_frame_and_switches_to_fp32(model_paths, standin_dir, failure):
    broken = standins.build_swapper(standin_dir / f"fp16_{failure}.onnx", fp16=True, **{failure: True})
    frame = load_photo(media("fr_obama.jpg"))
    engine = _engine({**model_paths, "swapper": str(broken), "swapper_fp32": model_paths["swapper"]})
    engine.set_source_file(str(media("dlib_2008_002506.jpg")))
    assert engine.swap_precision == "fp16"
    first = engine.process(frame, 0.0)
    np.testing.assert_array_equal(first, frame)     # the broken swap never shows: the frame passes
    assert engine.swap_precision == "fp32" and "switched to fp32" in " ".join(engine.notes)
    assert "fp32 swap" in engine.describe()
    reference = _engine(model_paths)
    reference.set_source_file(str(media("dlib_2008_002506.jpg")))
    np.testing.assert_array_equal(engine.process(frame, 0.04), reference.process(frame, 0.04))


def test_broken_fp16_without_an_fp32_model_says_how_to_install_it(model_paths, standin_dir, tmp_path):
    broken = standins.build_swapper(standin_dir / "fp16_nan_only.onnx", fp16=True, nan=True)
    engine = _engine({**model_paths, "swapper": str(broken)}, model_dir=str(tmp_path))
    engine.set_source_file(str(media("dlib_2008_002506.jpg")))
    with pytest.raises(FaceSwapError, match="faceswap models install inswapper_128"):
        engine.process(load_photo(media("fr_obama.jpg")), 0.0)


def test_mapping_needs_its_photos(model_paths):
    with pytest.raises(FaceSwapError, match="needs a reference photo"):
        _engine(model_paths, face_mapping="reference")
    with pytest.raises(FaceSwapError, match="needs at least one pair"):
        _engine(model_paths, face_mapping="pairs")
    engine = _engine(model_paths, face_mapping="reference", reference_photo=str(media("fr_obama.jpg")))
    assert engine.mapping.mode == "reference" and engine.mapping.reference is not None


def test_own_model_files_are_used_and_checked_by_signature(model_paths, standin_dir, tmp_path):
    """--swapper/--detector/--recognizer FILE: no catalogue (an empty models folder), the
    files the user named are opened, checked on load, and the status says so."""
    engine = create_engine("neural", SwapOptions(smoothing=0.0), model_dir=str(tmp_path),
                           swapper_file=model_paths["swapper"], detector_file=model_paths["detector"],
                           recognizer_file=model_paths["recognizer"])
    assert engine.own_files == ("detector", "recognizer", "swapper")
    assert any("not a catalogued one" in note for note in engine.notes)
    engine.set_source_file(str(media("dlib_2008_002506.jpg")))
    frame = load_photo(media("fr_obama.jpg"))
    reference = _engine(model_paths)
    reference.set_source_file(str(media("dlib_2008_002506.jpg")))
    np.testing.assert_array_equal(engine.process(frame, 0.0), reference.process(frame, 0.0))
    # an fp16 conversion of the same signature is accepted
    fp16 = standins.build_swapper(standin_dir / "own_fp16.onnx", fp16=True)
    assert create_engine("neural", model_dir=str(tmp_path), swapper_file=str(fp16), detector_file=model_paths["detector"],
                         recognizer_file=model_paths["recognizer"]).swap_precision == "fp16"


@pytest.mark.parametrize("role, wrong, words", [
    ("swapper", "recognizer", "is not inswapper_128: choose an inswapper_128-shaped file"),
    ("recognizer", "detector", "does not fit ArcFace|square"),
    ("detector", "recognizer", "SCRFD"),
    ("swapper", "nan_swapper", "does not fit inswapper_128: its output on a test face"),
    ("swapper", "missing", "does not exist"),
])
def test_own_model_files_that_do_not_fit_get_one_sentence(model_paths, standin_dir, tmp_path, role, wrong, words):
    files = {"detector_file": model_paths["detector"], "recognizer_file": model_paths["recognizer"],
             "swapper_file": model_paths["swapper"]}
    if wrong == "nan_swapper":
        files["swapper_file"] = str(standins.build_swapper(standin_dir / "own_nan.onnx", nan=True))
    elif wrong == "missing":
        files["swapper_file"] = str(tmp_path / "nowhere.onnx")
    else:
        files[f"{role}_file"] = model_paths[wrong]
    with pytest.raises(FaceSwapError, match=words) as error:
        create_engine("neural", model_dir=str(tmp_path), **files)
    assert "\n" not in str(error.value)


def test_a_broken_own_file_is_the_users_to_replace_not_a_catalogue_command(model_paths, tmp_path):
    """A file the user named (--recognizer FILE) that does not load: the message said "run
    faceswap models install --force", which installs the catalogue's file and leaves theirs."""
    bad = tmp_path / "my-recognizer.onnx"
    bad.write_bytes(b"not an onnx file" * 64)
    with pytest.raises(FaceSwapError) as error:
        create_engine("neural", model_dir=str(tmp_path), detector_file=model_paths["detector"],
                      recognizer_file=str(bad), swapper_file=model_paths["swapper"])
    text = str(error.value)
    assert "my-recognizer.onnx" in text and "your own file" in text and "--recognizer FILE" in text, text
    assert "models install" not in text, text


def test_an_fp32_swap_that_breaks_on_the_cpu_says_so_and_nothing_else_was_tried(model_paths, standin_dir):
    """The NaN message named a GPU on a CPU and said "in fp32 too" when fp32 was the only
    precision tried."""
    broken = standins.build_swapper(standin_dir / "fp32_nan.onnx", nan=True)
    engine = _engine({**model_paths, "swapper": str(broken)})
    assert engine.swap_precision == "fp32" and engine.provider == "cpu"
    engine.set_source_file(str(media("dlib_2008_002506.jpg")))
    with pytest.raises(FaceSwapError) as error:
        engine.process(load_photo(media("fr_obama.jpg")), 0.0)
    text = str(error.value)
    assert "on the CPU" in text and "GPU" not in text and "too" not in text, text
