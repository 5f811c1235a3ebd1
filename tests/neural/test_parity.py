"""The project's neural pipeline computes what insightface.model_zoo computes for the same
inputs: aligned crops, detections (rank-2 and rank-3 SCRFD outputs), embeddings, latents
and 128x128 swap outputs. The models are stand-ins with the real signatures, so the real
weights get exactly the inputs they were trained with.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from testkit import standins
from testkit.judge import media, shared_model
from faceswap_core.errors import FaceSwapError
from faceswap_core.neural import alignment
from faceswap_core.neural.detector import ScrfdDetector
from faceswap_core.neural.providers import ModelSession
from faceswap_core.neural.recognizer import ArcFaceRecognizer
from faceswap_core.neural.swapper import InSwapper, read_emap

CPU = ["CPUExecutionProvider"]
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _ref_session(path):
    return ort.InferenceSession(str(path), providers=CPU)


def _photo_keypoints() -> tuple[np.ndarray, list[np.ndarray]]:
    """A real group photo and plausible keypoints for each face: from the real SCRFD-500M
    when it is there, else the template mapped through random similarities."""
    image = cv2.imread(str(media("if_t1.jpg")))
    try:
        detector = ScrfdDetector(ModelSession(str(shared_model("scrfd_500m_bnkps.onnx"))))
        keypoints = [f.keypoints for f in detector.detect(image)]
    except pytest.skip.Exception:
        keypoints = []
    rng = np.random.default_rng(7)
    for _ in range(4):
        angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.8, 2.5)
        rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        shift = rng.uniform([100, 100], [image.shape[1] - 200, image.shape[0] - 200])
        keypoints.append((alignment.ARCFACE_TEMPLATE @ rot.T + shift).astype(np.float32))
    return image, keypoints


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    for _ in range(20):
        angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.1, 5.0)
        matrix = np.array([[scale * np.cos(angle), -scale * np.sin(angle), rng.uniform(-300, 300)],
                           [scale * np.sin(angle), scale * np.cos(angle), rng.uniform(-300, 300)]])
        src = rng.uniform(0, 500, size=(5, 2))
        dst = src @ matrix[:, :2].T + matrix[:, 2]
        fitted = alignment.umeyama(src, dst)
        np.testing.assert_allclose(fitted[:2], matrix, rtol=1e-6, atol=1e-6)


def test_umeyama_rejects_degenerate_points():
    with pytest.raises(ValueError):
        alignment.umeyama(np.ones((5, 2)), alignment.ARCFACE_TEMPLATE)
    with pytest.raises(ValueError):
        alignment.estimate_norm(np.zeros((4, 2)), 112)
    with pytest.raises(ValueError):
        alignment.template_for(100)


def test_aligned_crops_match_insightface(insightface_zoo):
    from insightface.utils import face_align

    image, keypoints = _photo_keypoints()
    assert len(keypoints) >= 5
    for points in keypoints:
        for size in (112, 128, 224, 256):
            ours, matrix = alignment.norm_crop(image, points, size)
            np.testing.assert_allclose(matrix, face_align.estimate_norm(points, size), atol=1e-6)
            theirs = face_align.norm_crop(image, points, size)
            assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


@pytest.mark.parametrize("rank", [2, 3])
def test_detector_matches_insightface_on_rank2_and_rank3_outputs(insightface_zoo, standin_dir, rank):
    path = standins.build_detector(standin_dir / f"parity_det{rank}.onnx", rank=rank, seed=10 + rank)
    ours = ScrfdDetector(ModelSession(str(path)))
    assert ours.batched == (rank == 3)
    reference = insightface_zoo.scrfd.SCRFD(str(path), session=_ref_session(path))
    compared = 0
    for name in ("if_t1.jpg", "fr_two_people.jpg", "dlib_2008_002506.jpg"):
        image = cv2.imread(str(media(name)))
        boxes, kps = ours.detect_arrays(image)
        ref_boxes, ref_kps = reference.detect(image, input_size=(640, 640))
        assert boxes.shape == ref_boxes.shape
        np.testing.assert_allclose(boxes, ref_boxes, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(kps, ref_kps, rtol=1e-5, atol=1e-3)
        compared += len(boxes)
    assert compared > 10  # the stand-in fires on enough anchors for NMS to matter


def test_detector_matches_insightface_with_real_scrfd_weights(insightface_zoo):
    path = shared_model("scrfd_500m_bnkps.onnx")
    ours = ScrfdDetector(ModelSession(str(path)))
    reference = insightface_zoo.scrfd.SCRFD(str(path), session=_ref_session(path))
    image = cv2.imread(str(media("if_t1.jpg")))
    boxes, kps = ours.detect_arrays(image)
    ref_boxes, ref_kps = reference.detect(image, input_size=(640, 640))
    assert len(boxes) == 6
    np.testing.assert_allclose(boxes, ref_boxes, atol=1e-3)
    np.testing.assert_allclose(kps, ref_kps, atol=1e-3)


def test_embeddings_match_insightface(insightface_zoo, recognizer_model):
    from insightface.app.common import Face

    ours = ArcFaceRecognizer(ModelSession(str(recognizer_model)))
    reference = insightface_zoo.arcface_onnx.ArcFaceONNX(str(recognizer_model), session=_ref_session(recognizer_model))
    assert (reference.input_mean, reference.input_std) == (ours.mean, ours.std)
    image, keypoints = _photo_keypoints()
    embeddings = ours.embed(image, keypoints)
    for points, embedding in zip(keypoints, embeddings):
        face = Face(bbox=np.zeros(4), kps=points, det_score=1.0)
        reference.get(image, face)
        np.testing.assert_allclose(embedding, face.normed_embedding, atol=1e-5)
    # A deterministic function of the pixels: different faces, different vectors.
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-2


def test_latents_and_swap_outputs_match_insightface(insightface_zoo, swapper_model, recognizer_model):
    from insightface.app.common import Face

    recognizer = ArcFaceRecognizer(ModelSession(str(recognizer_model)))
    ours = InSwapper(ModelSession(str(swapper_model)), read_emap(str(swapper_model)))
    reference = insightface_zoo.inswapper.INSwapper(str(swapper_model), session=_ref_session(swapper_model))
    np.testing.assert_array_equal(ours.emap, reference.emap)
    image, keypoints = _photo_keypoints()
    embeddings = recognizer.embed(image, keypoints)
    outputs = []
    for index, points in enumerate(keypoints):
        source_embedding = embeddings[(index + 1) % len(keypoints)]
        latent = ours.latent(source_embedding)
        ref_latent = source_embedding.reshape(1, -1) @ reference.emap
        ref_latent /= np.linalg.norm(ref_latent)
        np.testing.assert_allclose(latent, ref_latent, atol=1e-5)

        crop, matrix = ours.crop(image, points)
        swapped = ours.run(crop, latent)
        target = Face(bbox=np.zeros(4), kps=points, det_score=1.0)
        source = Face(bbox=np.zeros(4), kps=points, det_score=1.0)
        source.embedding = source_embedding * 3.0  # insightface normalises it itself
        ref_swapped, ref_matrix = reference.get(image, target, source, paste_back=False)
        np.testing.assert_allclose(matrix, ref_matrix, atol=1e-6)
        assert swapped.shape == (128, 128, 3) and swapped.dtype == np.uint8
        assert np.abs(swapped.astype(int) - ref_swapped.astype(int)).max() <= 1
        outputs.append(swapped)
    # The output depends on the source identity.
    crop, _ = ours.crop(image, keypoints[0])
    a, b = ours.run(crop, ours.latent(embeddings[1])), ours.run(crop, ours.latent(embeddings[2]))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2.0


def test_bound_latent_equals_fed_latent(swapper_model, recognizer_model):
    """IOBinding (forced on, on CPU) gives the same output as a plain run."""
    plain = InSwapper(ModelSession(str(swapper_model), use_binding=False), read_emap(str(swapper_model)))
    bound = InSwapper(ModelSession(str(swapper_model), use_binding=True), read_emap(str(swapper_model)))
    image, keypoints = _photo_keypoints()
    crop, _ = plain.crop(image, keypoints[0])
    latent_a, latent_b = plain.latent(np.arange(512.0)), plain.latent(np.cos(np.arange(512.0)))
    bound.set_latent(latent_a)
    np.testing.assert_array_equal(bound.run(crop), plain.run(crop, latent_a))
    bound.run(crop, latent_b)  # a per-call latent must not replace the bound one for later runs
    np.testing.assert_array_equal(bound.run(crop), plain.run(crop, latent_a))


def test_fp16_swapper_runs_and_agrees_with_fp32(swapper_model, swapper_fp16, recognizer_model):
    fp32 = InSwapper(ModelSession(str(swapper_model)), read_emap(str(swapper_model)))
    fp16 = InSwapper(ModelSession(str(swapper_fp16)), read_emap(str(swapper_fp16)))
    assert fp16.target_dtype == np.float16 and fp16.emap.dtype == np.float32
    image, keypoints = _photo_keypoints()
    crop, _ = fp32.crop(image, keypoints[0])
    latent = fp32.latent(np.sin(np.arange(512.0)))
    assert np.abs(fp32.run(crop, latent).astype(int) - fp16.run(crop, latent).astype(int)).max() <= 6


def test_swapper_without_emap_last_is_refused(standin_dir):
    import onnx

    path = standins.build_swapper(standin_dir / "emap_not_last.onnx")
    model = onnx.load(str(path))
    emap = model.graph.initializer[-1]
    inits = list(model.graph.initializer)
    del model.graph.initializer[:]
    model.graph.initializer.extend([emap] + inits[:-1])
    onnx.save(model, str(path))
    with pytest.raises(FaceSwapError, match="emap"):
        read_emap(str(path))


def test_nan_output_names_the_fp32_fix(standin_dir):
    path = standins.build_swapper(standin_dir / "nan.onnx", nan=True)
    swapper = InSwapper(ModelSession(str(path)), read_emap(str(path)))
    crop = np.full((128, 128, 3), 128, np.uint8)
    with pytest.raises(FaceSwapError, match="fp32"):
        swapper.run(crop, swapper.latent(np.ones(512)))


def test_paste_back_matches_insightface_but_only_touches_the_box(insightface_zoo, swapper_model):
    """insightface warps the crop and an eroded, blurred white mask over the whole frame; the
    project does the same geometry inside the crop's box only (soft mask on a coarse grid)."""
    from insightface.app.common import Face

    from faceswap_core.neural.paste import paste_face
    from faceswap_core.options import SwapOptions
    from testkit.judge import read_frames

    ours = InSwapper(ModelSession(str(swapper_model)), read_emap(str(swapper_model)))
    reference = insightface_zoo.inswapper.INSwapper(str(swapper_model), session=_ref_session(swapper_model))
    detector = ScrfdDetector(ModelSession(str(shared_model("scrfd_500m_bnkps.onnx"))), 320)
    plain = SwapOptions(mouth_mask=False, colour_correction=False)
    embedding = np.sin(np.arange(512, dtype=np.float32))
    embedding /= np.linalg.norm(embedding)
    for clip in ("lp_d18.mp4", "lp_d12.mp4"):
        frame = read_frames(media(clip), limit=1)[0]
        face = detector.detect(frame)[0]
        crop, matrix = ours.crop(frame, face.keypoints)
        swapped = ours.run(crop, ours.latent(embedding))
        mine = frame.copy()
        x0, y0, x1, y1 = paste_face(mine, frame, swapped, matrix, face.keypoints, plain)
        target, source = Face(bbox=face.box, kps=face.keypoints), Face(bbox=face.box, kps=face.keypoints)
        source.embedding = embedding
        theirs = reference.get(frame, target, source, paste_back=True)
        outside = np.ones(frame.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(mine[outside], frame[outside])
        assert np.array_equal(theirs[outside], frame[outside])  # their mask is zero out there too
        diff = np.abs(mine.astype(int) - theirs.astype(int))
        swap_strength = np.abs(theirs.astype(int) - frame.astype(int))[y0:y1, x0:x1].mean()
        assert swap_strength > 15  # the stand-in changes the face a lot, so mask errors would show
        assert diff[y0:y1, x0:x1].mean() < 3.0
        # the inner face (well inside the mask) is identical up to rounding
        cx, cy = face.keypoints[2].astype(int)
        assert diff[cy - 10:cy + 10, cx - 10:cx + 10].max() <= 1
