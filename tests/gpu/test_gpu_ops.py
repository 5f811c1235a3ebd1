"""Each torch image operation of the GPU frame path against the OpenCV call it replaces,
on real frames, with torch's CPU build (the same kernels' semantics as on a GPU)."""

from __future__ import annotations

from testkit import torch_check

torch_check.require_torch()

import cv2
import numpy as np
import pytest
import torch

from testkit.judge import media, read_frames
from faceswap_core.neural import alignment, gpu_ops, pixel_boost
from faceswap_core.neural.detector import letterbox


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return read_frames(media("lp_d12.mp4"), limit=1)[0]


def _planes(image: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()


def _image(planes) -> np.ndarray:
    return planes.permute(1, 2, 0).numpy()


@pytest.mark.parametrize("size", [(640, 640), (320, 320), (640, 480)])
def test_letterbox_matches_cv2_resize_into_the_canvas(size):
    image = cv2.imread(str(media("if_t1.jpg")))
    canvas, scale = letterbox(image, size)
    blob, det_scale = gpu_ops.letterbox_blob(_planes(image), size, 127.5, 128.0)
    assert det_scale == pytest.approx(scale)
    ours = blob[0].flip(0).permute(1, 2, 0).numpy() * 128.0 + 127.5     # back to BGR uint8 values
    diff = np.abs(ours - canvas.astype(np.float32))
    assert diff.max() <= 1.0 + 1e-4           # OpenCV's fixed-point weights round a level off
    assert (diff > 0.5).mean() < 0.15
    assert np.all(ours[int(round(scale * image.shape[0])):] == 0.0)                  # the padding


def test_affine_crops_match_warp_affine_batched(frame):
    rng = np.random.default_rng(1)
    matrices = []
    for _ in range(5):  # faces of several sizes and angles, one partly outside the frame
        angle, scale = rng.uniform(-0.7, 0.7), rng.uniform(0.6, 3.0)
        rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        shift = rng.uniform([0, 0], [frame.shape[1], frame.shape[0]])
        points = (alignment.ARCFACE_TEMPLATE @ rot.T + shift).astype(np.float32)
        matrices.append(alignment.estimate_norm(points, 128))
    # as the frame path hands them over: float32 on the device
    coordinates = torch.from_numpy(gpu_ops.crop_coordinates(np.stack(matrices), 128).astype(np.float32))
    crops = gpu_ops.affine_crops(_planes(frame), coordinates, 128)
    assert crops.shape == (5, 3, 128, 128)
    for crop, matrix in zip(crops, matrices):
        reference = cv2.warpAffine(frame, matrix, (128, 128), borderValue=0.0).astype(np.float32)
        np.testing.assert_array_equal(_image(crop), reference)   # OpenCV's fixed point, to the level


def test_warp_into_box_matches_replicated_warp(frame):
    crop = np.random.default_rng(2).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    crop = cv2.GaussianBlur(crop, (0, 0), 2.0)  # smooth, like a face, so 1/32-pixel steps matter little
    points = (alignment.ARCFACE_TEMPLATE * 2.2 + [300, 150]).astype(np.float32)
    matrix = alignment.estimate_norm(points, 128)
    box = (280, 120, 620, 470)
    inverse = cv2.invertAffineTransform(matrix)
    inverse[:, 2] -= box[:2]
    reference = cv2.warpAffine(crop, inverse, (box[2] - box[0], box[3] - box[1]), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    coordinates = torch.from_numpy(gpu_ops.box_coordinates(matrix, box).astype(np.float32))
    ours = _image(gpu_ops.warp_into_box(_planes(crop), coordinates, box))
    assert ours.shape == reference.shape
    np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("seed", range(6))
def test_the_fixed_point_warp_is_opencvs_at_any_angle_scale_and_border(seed):
    """Random matrices (turns, shrinking and growing, mirrored, half outside) on a noisy
    image, both borders: every pixel equals cv2.warpAffine's."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.3, 4.0)
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    if seed % 2:
        linear[:, 0] *= -1.0
    matrix = np.hstack([linear, rng.uniform(-80, 150, (2, 1))])
    width, height = int(rng.integers(20, 160)), int(rng.integers(20, 160))
    coordinates = torch.from_numpy(gpu_ops.warp_coordinates(matrix, width, height)[None].astype(np.float32))
    for replicate, border in ((False, cv2.BORDER_CONSTANT), (True, cv2.BORDER_REPLICATE)):
        reference = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=border)
        ours = _image(gpu_ops.sample_fixed(_planes(image), coordinates, width, height, replicate)[0])
        np.testing.assert_array_equal(ours, reference.astype(np.float32))


@pytest.mark.parametrize("shape,coarse", [((160, 200), (40, 50)), ((371, 290), (64, 50)), ((97, 97), (64, 64)),
                                          ((300, 300), (64, 64))])
def test_area_downsample_matches_inter_area(shape, coarse):
    image = np.random.default_rng(3).integers(0, 256, (*shape, 3), dtype=np.uint8)
    reference = cv2.resize(image, coarse[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
    by = torch.from_numpy(gpu_ops.area_matrix(coarse[0], shape[0]))
    bx = torch.from_numpy(gpu_ops.area_matrix(coarse[1], shape[1]))
    ours = _image(gpu_ops.downsample_area(_planes(image), by, bx))
    assert np.abs(ours - reference).max() <= 1.0


@pytest.mark.parametrize("n,sigma", [(64, 6.4), (50, 6.4), (12, 6.4), (64, 0.96), (40, 1.7)])
def test_gaussian_matrix_matches_gaussian_blur_with_reflect101(n, sigma):
    image = np.random.default_rng(4).uniform(0, 1, (n, n + 7)).astype(np.float32)
    reference = cv2.GaussianBlur(image, (0, 0), sigma)
    by = torch.from_numpy(gpu_ops.gaussian_matrix(n, sigma))
    bx = torch.from_numpy(gpu_ops.gaussian_matrix(n + 7, sigma))
    ours = gpu_ops.blur(torch.from_numpy(image), by, bx).numpy()
    np.testing.assert_allclose(ours, reference, atol=2e-5)


def test_upsample_matches_inter_linear():
    coarse = np.random.default_rng(5).uniform(-10, 10, (48, 64, 3)).astype(np.float32)
    reference = cv2.resize(coarse, (301, 229), interpolation=cv2.INTER_LINEAR)
    ours = _image(gpu_ops.upsample(torch.from_numpy(coarse).permute(2, 0, 1), 229, 301))
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    single = gpu_ops.upsample(torch.from_numpy(coarse[:, :, 0]), 229, 301).numpy()
    np.testing.assert_allclose(single, reference[:, :, 0], atol=1e-4)


def test_uint8_steps_round_half_to_even_and_saturate():
    values = torch.tensor([-3.0, 0.5, 1.5, 2.4999, 254.5, 255.5, 300.0])
    assert gpu_ops.to_uint8_values(values).tolist() == [0.0, 0.0, 2.0, 2.0, 254.0, 255.0, 255.0]


def test_reflections_match_the_cpu_judgement():
    """lp_d12 frame 120: a screen's purple sheen on the lenses. The device's judgement of
    which cells are reflections is the CPU's, cell for cell."""
    from faceswap_core.vision import colour, eyes, masks
    from faceswap_core.vision.face_mesh import FaceMeshDetector, MeshTopology
    from faceswap_core.vision.grid import BoxGrid

    frame = read_frames(media("lp_d12.mp4"), limit=121)[120]
    detector = FaceMeshDetector(1, static=True)
    points = detector.detect(frame)[0].points
    detector.close()
    topology = MeshTopology.from_mediapipe()
    grid = BoxGrid.around(points[topology.face_oval], frame.shape)
    mask = masks.feather(masks.fill_polygon(grid, points[topology.face_oval]), 2.0, 0.0)
    lenses = masks.fill_polygons(grid, [(eyes.lens_region(points[eye]), 1.0) for eye in topology.eyes])
    cells = grid.downsample(grid.crop(frame))
    expected = colour.reflections(cells, mask, lenses)
    skin_index, lens_index = colour.reflection_cells(mask, lenses)
    ours = gpu_ops.reflections(_planes(cells), torch.from_numpy(lenses),
                               torch.from_numpy(skin_index.astype(np.float32)),
                               torch.from_numpy(lens_index.astype(np.float32))).numpy()
    assert (expected > 0.5).sum() > 5                       # the sheen is there to be found
    np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_tiles_cut_and_woven_on_the_device_are_pixel_boosts(frame, factor):
    """gpu_ops.to_tiles / from_tiles against pixel_boost's NumPy ones, on two faces at once."""
    size = 128 * factor
    crops = [frame[:size, :size], frame[-size:, -size:]]
    tiles = gpu_ops.to_tiles(torch.stack([_planes(c) for c in crops]), factor)
    expected = np.concatenate([pixel_boost.to_tiles(c, factor) for c in crops])
    assert tiles.shape == (2 * factor * factor, 3, 128, 128)
    np.testing.assert_array_equal(tiles.permute(0, 2, 3, 1).numpy(), expected)
    woven = gpu_ops.from_tiles(tiles, factor, 2)
    np.testing.assert_array_equal(woven.permute(0, 2, 3, 1).numpy(), np.stack(crops))


def test_the_light_gain_is_the_same_lines_for_arrays_and_tensors():
    """colour.light_gain serves the CPU paste and the GPU frame path: same numbers, each
    kind kept (float32 array, tensor), the limits applied."""
    from faceswap_core.vision.colour import GAIN_MAX, GAIN_MIN, light_gain

    rng = np.random.default_rng(3)
    target, source = (rng.uniform(0, 255, (12, 9, 3)).astype(np.float32) for _ in range(2))
    source[0, 0] = 0.0                                          # a black cell: the limit, not infinity
    on_host = light_gain(target, source)
    on_device = light_gain(torch.from_numpy(target), torch.from_numpy(source))
    assert on_host.dtype == np.float32 and isinstance(on_device, torch.Tensor)
    np.testing.assert_allclose(on_device.numpy(), on_host, rtol=1e-6)
    assert on_host.min() >= GAIN_MIN and on_host.max() <= GAIN_MAX and on_host.max() == np.float32(GAIN_MAX)
