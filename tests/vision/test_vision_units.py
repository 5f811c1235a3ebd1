"""The vision stages' maths, checked against what they must compute exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap_core.vision import colour, eyes, masks
from faceswap_core.vision.face_mesh import MeshTopology
from faceswap_core.vision.grid import BoxGrid
from faceswap_core.vision.smoothing import FaceTracker, OneEuroFilter, filter_for
from faceswap_core.vision.warp import coordinate_map


@pytest.fixture(scope="module")
def topology():
    return MeshTopology.from_mediapipe()



def test_topology_loops(topology):
    assert topology.triangles.shape[1] == 3 and len(topology.triangles) >= 850
    assert len(topology.face_oval) == 36
    assert len(topology.outer_lips) == 20 and len(topology.inner_lips) == 20
    assert 0 in topology.outer_lips and 13 in topology.inner_lips
    assert set(topology.left_eye).isdisjoint(topology.right_eye)
    for brow in topology.brows:     # one closed outline: every point once, 10 of them
        assert len(brow) == len(set(brow)) == 10
    assert set(topology.left_brow).isdisjoint(topology.right_brow)


def test_polygon_union_fills_where_polygons_overlap():
    """Grown feature outlines overlap; OpenCV's even-odd fill of several contours would
    leave the overlap empty, the union must not."""
    grid = BoxGrid(0, 0, 64, 64, 64, 64)
    first = np.array([[8, 8], [40, 8], [40, 40], [8, 40]], dtype=np.float32)
    second = first + 16
    union = masks.fill_polygons(grid, [(first, 1.0), (second, 1.0)])
    assert union[30, 30] == 1.0 and union[20, 20] == 1.0 and union[50, 50] == 1.0
    assert union[5, 60] == 0.0
    assert np.array_equal(masks.fill_polygons(grid, [(first, 1.5)]), masks.fill_polygon(grid, first, 1.5))


def test_warp_of_an_affine_motion_is_that_affine_map(topology):
    """A piecewise-affine warp between two meshes related by one affine map is that map."""
    from faceswap_core.vision.face_mesh import FaceMeshDetector
    import cv2
    from testkit.judge import media

    detector = FaceMeshDetector(1, static=True)
    src = detector.detect(cv2.imread(str(media("fr_obama.jpg"))))[0].points
    detector.close()
    matrix = np.array([[0.8, 0.1, 40.0], [-0.05, 0.9, 25.0]], dtype=np.float32)
    dst = src @ matrix[:, :2].T + matrix[:, 2]
    grid = BoxGrid.around(dst[topology.face_oval], (2000, 2000))
    mapped = coordinate_map(src, dst, topology.triangles, grid)
    samples = grid.sample_points().reshape(grid.rows, grid.cols, 2)
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    expected = samples @ inverse[:, :2].T + inverse[:, 2]
    oval = dst[topology.face_oval].astype(np.float32)
    mask = np.array([[cv2.pointPolygonTest(oval, (float(x), float(y)), True) > 3
                      for x, y in row] for row in samples])
    assert mask.sum() > 0.5 * mask.size
    assert np.abs(mapped[mask] - expected[mask]).max() < 0.01


def _residual_jitter(smoother) -> float:
    """Std of the filter's output on still points with 1 px of noise, relative to the noise."""
    rng = np.random.default_rng(1)
    still = np.tile(np.array([[200.0, 150.0]], dtype=np.float32), (50, 1))
    raw_spread, smooth_spread = [], []
    for frame in range(120):
        noisy = still + rng.normal(0, 1.0, still.shape).astype(np.float32)
        out = smoother(noisy, frame / 30.0, scale=200.0)
        if frame > 30:
            raw_spread.append(noisy - still)
            smooth_spread.append(out - still)
    return float(np.std(smooth_spread) / np.std(raw_spread))


def test_one_euro_removes_jitter_when_still():
    assert _residual_jitter(filter_for(0.5)) < 0.6
    assert _residual_jitter(filter_for(1.0)) < _residual_jitter(filter_for(0.5)) < _residual_jitter(filter_for(0.0))


def test_one_euro_follows_fast_motion_with_small_lag():
    smoother = OneEuroFilter()
    lag = []
    for frame in range(60):
        position = np.array([[100.0 + 20.0 * frame, 100.0]], dtype=np.float32)   # 600 px/s on a 200 px face
        out = smoother(position, frame / 30.0, scale=200.0)
        lag.append(float(position[0, 0] - out[0, 0]))
    assert lag[-1] < 0.05 * 200.0          # under 5% of the face size behind


def test_tracker_keeps_faces_apart():
    tracker = FaceTracker(smoothing=0.5)
    left = np.full((468, 2), 100.0, dtype=np.float32) + np.random.default_rng(0).normal(0, 20, (468, 2)).astype(np.float32)
    right = left + np.float32(500.0)
    for frame in range(10):
        out_left, out_right = tracker.smooth([left, right], frame / 30.0)
    # Swapping the order must not swap identities between the filters.
    out_right2, out_left2 = tracker.smooth([right, left], 10 / 30.0)
    assert np.abs(out_left2 - left).max() < 1.0 and np.abs(out_right2 - right).max() < 1.0


def test_box_grid_upsample_is_exact_linear_interpolation():
    grid = BoxGrid(10, 20, 310, 260, 30, 24)
    samples = grid.sample_points().reshape(grid.rows, grid.cols, 2)
    full = grid.upsample(samples)
    ys, xs = np.mgrid[grid.y0:grid.y1, grid.x0:grid.x1]
    inner = (slice(10, -10), slice(10, -10))   # the upsample clamps at the outer half cell
    assert np.abs(full[..., 0][inner] - xs[inner]).max() < 1e-3
    assert np.abs(full[..., 1][inner] - ys[inner]).max() < 1e-3


def _eye_outline(width: float, height: float, centre=(50.0, 40.0), angle: float = 0.0) -> np.ndarray:
    """An almond-shaped closed outline like mediapipe's 16-point eye loop."""
    t = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    local = np.stack([np.cos(t) * width / 2, np.sin(t) * height / 2], axis=1)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (local @ rotation.T + np.array(centre)).astype(np.float32)


def test_eye_openness_is_scale_and_rotation_free_and_orders_open_over_shut():
    open_eye = eyes.openness(_eye_outline(30, 12))
    assert eyes.openness(_eye_outline(90, 36, angle=0.4)) == pytest.approx(open_eye, rel=1e-3)
    assert eyes.openness(_eye_outline(30, 1)) < eyes.CLOSED < eyes.OPEN < open_eye


def test_lid_weight_ramps_from_open_to_shut():
    weights = [eyes.lid_weight(value) for value in np.linspace(0.0, 0.3, 31)]
    assert weights[0] == 1.0 and weights[-1] == 0.0
    assert all(a >= b for a, b in zip(weights, weights[1:]))
    assert 0.0 < eyes.lid_weight((eyes.OPEN + eyes.CLOSED) / 2) < 1.0


def test_reflections_are_what_differs_from_the_skin_inside_the_lenses():
    """A purple sheen on a lens is a reflection; the same sheen outside the lenses, a shadow
    inside them, or a face lit purple all over is not."""
    rng = np.random.default_rng(3)
    skin = np.array([120, 140, 190], np.float32)                        # BGR
    cells = np.clip(skin + rng.normal(0, 2, (40, 32, 3)), 0, 255).astype(np.uint8)
    mask = np.ones((40, 32), np.float32)
    lenses = np.zeros((40, 32), np.float32)
    lenses[8:18, 4:14] = 1.0
    sheen = np.array([215, 120, 200], np.uint8)

    glare = cells.copy()
    glare[10:14, 6:10] = sheen                                          # on the lens
    glare[30:34, 6:10] = sheen                                          # on the cheek
    found = colour.reflections(glare, mask, lenses)
    assert found[10:14, 6:10].min() == 1.0
    assert found[30:34, 6:10].max() == 0.0 and found[lenses == 0].max() == 0.0
    assert found[8:18, 10:14].max() < 0.2                              # the rest of the lens is skin

    shadow = cells.copy()
    shadow[10:14, 6:10] = (shadow[10:14, 6:10] * 0.6).astype(np.uint8)
    assert colour.reflections(shadow, mask, lenses).max() < 0.2

    purple_light = np.clip(cells.astype(np.float32) * [1.5, 0.8, 1.0], 0, 255).astype(np.uint8)
    assert colour.reflections(purple_light, mask, lenses).max() < 0.2


def test_lens_region_reaches_the_brow_and_past_the_corners():
    outline = _eye_outline(40, 0.5)
    mask = np.zeros((100, 120), np.uint8)
    cv2.fillPoly(mask, [np.round(eyes.lens_region(outline)).astype(np.int32)], 1)
    width = np.ptp(outline[:, 0])
    centre = outline.mean(axis=0)
    for dx, dy in ((0.85, 0), (-0.85, 0), (0, -0.75), (0, 0.75)):       # in eye widths
        x, y = centre + np.array([dx, dy]) * width
        assert mask[int(round(y)), int(round(x))], (dx, dy)
    assert not mask[int(round(centre[1] - 0.85 * width)), int(round(centre[0]))]


def test_lid_region_covers_a_shut_eye_and_its_lids():
    shut = _eye_outline(40, 0.5, angle=0.3)
    region = eyes.lid_region(shut)
    mask = np.zeros((100, 120), np.uint8)
    cv2.fillPoly(mask, [np.round(region).astype(np.int32)], 1)
    corners = shut[[0, 8]]
    assert all(mask[int(round(y)), int(round(x))] for x, y in corners)          # both corners inside
    normal = np.array([-np.sin(0.3), np.cos(0.3)])
    for side in (-1, 1):                                                         # lids above and below
        x, y = np.array([50.0, 40.0]) + side * 8 * normal
        assert mask[int(round(y)), int(round(x))]
    assert mask.sum() < 40 * 40                                                  # not the whole face


def test_box_grid_cells_are_whole_pixels_inside_the_frame():
    """A face's grid has whole pixels per cell where a cell is 1.5 pixels or more (the
    colour's INTER_AREA downsample then takes OpenCV's fast path), its box still holds the
    face and its margin and stays inside the frame, and its cell count per side stays near
    COARSE_CELLS. A frame only a few cells high keeps fractional cells."""
    from faceswap_core.vision.grid import COARSE_CELLS

    for points, shape in ((np.float32([[100, 100], [500, 550]]), (720, 1280)),     # a close face
                          (np.float32([[1200, 600], [1279, 719]]), (720, 1280)),   # at the corner
                          (np.float32([[300, 200], [520, 470]]), (1080, 1920))):
        grid = BoxGrid.around(points, shape)
        assert grid.width % grid.cols == 0 and grid.height % grid.rows == 0, grid
        assert grid.width // grid.cols == grid.height // grid.rows >= 2, grid
        assert 0 <= grid.x0 and 0 <= grid.y0 and grid.x1 <= shape[1] and grid.y1 <= shape[0], grid
        lo, hi = points.min(axis=0), points.max(axis=0)
        assert grid.x0 <= lo[0] and grid.y0 <= lo[1] and grid.x1 >= min(hi[0], shape[1] - 1), grid
        assert grid.y1 >= min(hi[1], shape[0] - 1), grid
        assert 0.8 * COARSE_CELLS <= max(grid.cols, grid.rows) <= 1.25 * COARSE_CELLS, grid
    flat = BoxGrid.around(np.float32([[10, 2], [1900, 14]]), (16, 2000))
    assert flat.rows >= 2 and flat.y1 - flat.y0 >= 8 and flat.y1 <= 16, flat


@pytest.mark.parametrize("cells", [50, 51])   # the light's grid halves even and odd grids
def test_the_colour_gain_follows_a_side_light_and_nothing_outside_the_face(cells):
    """The gain relights the photo with the target's light across the face (a side light
    from 0.6 to 1.4 of the photo's), measured only inside the mask: the bright background
    around the face must not brighten its edge."""
    side = 8 * cells
    grid = BoxGrid(0, 0, side, side, cells, cells)
    rng = np.random.default_rng(3)
    warped = np.clip(np.array([120, 135, 170], np.float32) + rng.normal(0, 6, (side, side, 3)), 0, 255).astype(np.uint8)
    ramp = np.linspace(0.6, 1.4, side, dtype=np.float32)[None, :, None]
    yy, xx = (np.indices((side, side)) + 0.5) / side - 0.5
    disc = np.hypot(xx, yy) < 0.42
    target = np.where(disc[:, :, None], np.clip(warped * ramp, 0, 255), 255).astype(np.uint8)
    coarse = cv2.resize(disc.astype(np.float32), (cells, cells), interpolation=cv2.INTER_AREA)
    mask = (coarse > 0.99).astype(np.float32)   # the mask stays inside the disc
    gain = colour.low_frequency_gain(warped, target, mask, grid, 0.1 * cells)
    assert gain.shape == (side, side, 3)
    expected = np.broadcast_to(ramp, gain.shape)
    inner = np.hypot(xx, yy) < 0.3
    edge = (np.hypot(xx, yy) > 0.33) & (np.hypot(xx, yy) < 0.38)
    # the blur spreads the ramp a little towards the middle where the mask ends; a gain
    # that took the white background in would be 1.5 or more at the edge
    assert np.abs(gain[inner] - expected[inner]).max() < 0.06
    assert np.abs(gain[edge] - expected[edge]).max() < 0.12
