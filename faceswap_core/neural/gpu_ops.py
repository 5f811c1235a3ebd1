"""The CPU path's image operations, in torch, so a frame never leaves the GPU between its
upload and the download of the face boxes.

Each function computes what its OpenCV counterpart computes, to within rounding:
- letterbox_blob: cv2.resize (INTER_LINEAR) into the detector's canvas, normalised;
- affine_crops: cv2.warpAffine of a frame into aligned face crops (zero border), batched;
- warp_into_box: cv2.warpAffine of a swapped crop back into a face's box (replicated border);
- area_matrix / gaussian_matrix: cv2.resize (INTER_AREA) and cv2.GaussianBlur (reflect-101
  border) on the coarse grid, as small matrices, so each is two matrix products;
- upsample: cv2.resize (INTER_LINEAR) of a coarse grid to the box;
- the uint8 steps (rounding, saturation) where the CPU path stores uint8.

Images are float32 planes (C, H, W) holding 0..255 values, BGR as the frames are.
Geometry (matrices, boxes, coarse masks) is computed on the CPU: a few numbers per face,
handed in as device tensors by the caller (which caches the constant ones), so nothing
here copies from the host and waits for the GPU.
"""

from __future__ import annotations

import numpy as np

from .detector import letterbox_size
from .runner_torch import import_torch


def to_uint8_values(image):
    """What storing as uint8 does: round half to even (as cvRound) and saturate, kept float."""
    return image.round().clamp_(0.0, 255.0)


def letterbox_blob(planes, size: tuple[int, int], mean: float = 127.5, std: float = 128.0, dtype=None):
    """The detector's input (1, 3, h, w), RGB, (x - mean) / std, and det_scale."""
    torch = import_torch()
    functional = torch.nn.functional
    height, width = planes.shape[1:]
    new_w, new_h = letterbox_size(height, width, size)
    resized = functional.interpolate(planes[None, :3], size=(new_h, new_w), mode="bilinear", align_corners=False)
    canvas = torch.zeros((1, 3, size[1], size[0]), dtype=planes.dtype, device=planes.device)
    canvas[:, :, :new_h, :new_w] = to_uint8_values(resized)
    blob = (canvas.flip(1) - mean) / std
    return blob.to(dtype or planes.dtype), new_h / height


def to_tiles(crops, factor: int):
    """pixel_boost.to_tiles for (N, C, S, S) crops: (N * factor * factor, C, S / factor,
    S / factor), tile i * factor + j of each face holding crop[i::factor, j::factor]."""
    if factor == 1:
        return crops
    count, channels, size = crops.shape[0], crops.shape[1], crops.shape[2]
    side = size // factor
    grid = crops.reshape(count, channels, side, factor, side, factor)
    return grid.permute(0, 3, 5, 1, 2, 4).reshape(count * factor * factor, channels, side, side)


def from_tiles(tiles, factor: int, count: int):
    """The inverse of to_tiles: (count * factor * factor, C, s, s) -> (count, C, s * factor, s * factor)."""
    if factor == 1:
        return tiles
    channels, side = tiles.shape[1], tiles.shape[2]
    grid = tiles.reshape(count, factor, factor, channels, side, side)
    return grid.permute(0, 3, 4, 1, 5, 2).reshape(count, channels, side * factor, side * factor)


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """cv2.invertAffineTransform for (N, 2, 3), in float64."""
    matrices = np.asarray(matrices, dtype=np.float64)
    linear = np.linalg.inv(matrices[:, :, :2])
    return np.concatenate([linear, -(linear @ matrices[:, :, 2:])], axis=2)


def normalised_theta(matrices: np.ndarray, out_size: tuple[int, int], src_size: tuple[int, int]) -> np.ndarray:
    """affine_grid's theta (N, 2, 3) for pixel matrices (N, 2, 3) that map output pixels to
    source pixels; sizes are (width, height). With align_corners=False pixel p of n sits at
    normalised (2p + 1) / n - 1, so theta = to_norm(src) @ M @ to_pixels(out)."""
    (out_w, out_h), (src_w, src_h) = out_size, src_size
    to_pixels = np.array([[out_w / 2.0, 0.0, (out_w - 1) / 2.0], [0.0, out_h / 2.0, (out_h - 1) / 2.0],
                          [0.0, 0.0, 1.0]])
    to_norm = np.array([[2.0 / src_w, 0.0, 1.0 / src_w - 1.0], [0.0, 2.0 / src_h, 1.0 / src_h - 1.0]])
    matrices = np.asarray(matrices, dtype=np.float64)
    full = np.concatenate([matrices, np.broadcast_to([[[0.0, 0.0, 1.0]]], (len(matrices), 1, 3))], axis=1)
    return (to_norm @ full @ to_pixels).astype(np.float32)


def crop_theta(matrices: np.ndarray, size: int, frame_shape: tuple[int, ...]) -> np.ndarray:
    """theta for affine_crops: frame->crop matrices (as cv2.warpAffine takes them)."""
    return normalised_theta(invert_affine(matrices), (size, size), (frame_shape[1], frame_shape[0]))


def affine_crops(planes, theta, size: int):
    """Aligned size x size crops (N, C, size, size) of one frame, as
    cv2.warpAffine(frame, M, (size, size), borderValue=0) gives them (uint8 values);
    theta: (N, 2, 3) device tensor, crop_theta(M)."""
    torch = import_torch()
    functional = torch.nn.functional
    grid = functional.affine_grid(theta, [len(theta), planes.shape[0], size, size], align_corners=False)
    source = planes[None].expand(len(theta), -1, -1, -1)
    crops = functional.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return to_uint8_values(crops)


def box_theta(matrix: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """theta (1, 2, 3) for warp_into_box: box pixels -> crop pixels through the frame->crop matrix."""
    shifted = np.asarray(matrix, dtype=np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array(box[:2], dtype=np.float64)
    x0, y0, x1, y1 = box
    return normalised_theta(shifted[None], (x1 - x0, y1 - y0), (size, size))


def warp_into_box(crop, theta, box: tuple[int, int, int, int]):
    """The swapped crop (C, S, S) drawn into the frame box (x0, y0, x1, y1), replicated border,
    as paste_face's cv2.warpAffine (uint8 values); theta: (1, 2, 3) device tensor, box_theta."""
    torch = import_torch()
    functional = torch.nn.functional
    x0, y0, x1, y1 = box
    grid = functional.affine_grid(theta, [1, crop.shape[0], y1 - y0, x1 - x0], align_corners=False)
    warped = functional.grid_sample(crop[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    return to_uint8_values(warped)


def area_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) weights of cv2.resize's INTER_AREA along one axis (a downscale): each
    output is the mean of the input interval it covers, partial pixels weighted."""
    scale = n_in / n_out
    starts = np.arange(n_out, dtype=np.float64)[:, None] * scale
    pixels = np.arange(n_in, dtype=np.float64)[None, :]
    weights = np.clip(np.minimum(starts + scale, pixels + 1.0) - np.maximum(starts, pixels), 0.0, None)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights.astype(np.float32)


def gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of cv2.GaussianBlur(ksize (0, 0), sigma) along one axis of a float32
    image: kernel size round(8 sigma + 1) | 1, reflect-101 border."""
    ksize = int(round(sigma * 8 + 1)) | 1
    radius = (ksize - 1) // 2
    offsets = np.arange(ksize) - radius
    taps = np.exp(-(offsets ** 2) / (2.0 * sigma * sigma))
    taps /= taps.sum()
    source = np.arange(n)[:, None] + offsets[None, :]                      # (n, ksize) unreflected
    if n == 1:
        source = np.zeros_like(source)
    else:
        period = 2 * (n - 1)
        source = np.abs(source) % period
        source = np.where(source >= n, period - source, source)
    matrix = np.zeros((n, n), dtype=np.float64)
    np.add.at(matrix, (np.repeat(np.arange(n), ksize), source.ravel()), np.tile(taps, n))
    return matrix.astype(np.float32)


def downsample_area(planes, by, bx):
    """INTER_AREA of uint8-valued (C, H, W) planes to (C, rows, cols), rounded as cv2 stores
    uint8; by = area_matrix(rows, H), bx = area_matrix(cols, W) on the device."""
    return to_uint8_values(by @ planes @ bx.T)


def blur(planes, by, bx):
    """cv2.GaussianBlur((0, 0), sigma) of float (C, rows, cols) planes (or (rows, cols));
    by = gaussian_matrix(rows, sigma), bx = gaussian_matrix(cols, sigma) on the device."""
    return by @ planes @ bx.T


def upsample(coarse, height: int, width: int):
    """cv2.resize INTER_LINEAR of (C, rows, cols) or (rows, cols) float to (height, width)."""
    torch = import_torch()
    squeeze = coarse.dim() == 2
    batch = coarse[None, None] if squeeze else coarse[None]
    out = torch.nn.functional.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False)
    return out[0, 0] if squeeze else out[0]


def reflections(cells, lenses, skin_index, lens_index):
    """colour.reflections on the device: cells (3, rows, cols) uint8-valued BGR, lenses
    (rows, cols), and colour.reflection_cells' indices (uploaded as floats). The indices
    come from the host's masks, so nothing here waits for the GPU."""
    torch = import_torch()
    from ..vision.colour import REFLECTION_FAR, REFLECTION_MIN_BRIGHTNESS, REFLECTION_NEAR

    values = cells.reshape(3, -1) + 1.0
    skin, inside = values[:, skin_index.long()], values[:, lens_index.long()]
    skin_brightness, inside_brightness = skin.sum(dim=0), inside.sum(dim=0)
    skin_chromaticity = skin[1:] * (255.0 / skin_brightness)
    inside_chromaticity = inside[1:] * (255.0 / inside_brightness)
    reference = torch.quantile(skin_chromaticity, 0.5, dim=1, keepdim=True)   # numpy's median
    distance = (inside_chromaticity - reference).square().sum(dim=0).sqrt()
    unlike = ((distance - REFLECTION_NEAR) / (REFLECTION_FAR - REFLECTION_NEAR)).clamp(0.0, 1.0)
    lit = inside_brightness >= REFLECTION_MIN_BRIGHTNESS * torch.quantile(skin_brightness, 0.5)
    found = torch.zeros_like(lenses).reshape(-1)
    found[lens_index.long()] = lenses.reshape(-1)[lens_index.long()] * unlike * lit
    return found.reshape(lenses.shape)
