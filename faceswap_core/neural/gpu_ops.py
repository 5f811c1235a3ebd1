"""The CPU path's image operations, in torch, so a frame never leaves the GPU between its
upload and the download of the face boxes.

Each function computes what its OpenCV counterpart computes, to within rounding:
- letterbox_blob: cv2.resize (INTER_LINEAR) into the detector's canvas, normalised;
- affine_crops: cv2.warpAffine of a frame into aligned face crops (zero border), batched,
  and warp_into_box: of a swapped crop back into a face's box (replicated border): both
  exactly, to the level, with OpenCV's own fixed-point coordinates and weights
  (warp_coordinates on the host, sample_fixed on the device);
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


# cv2.warpAffine's fixed point (imgproc/src/imgwarp.cpp): source coordinates in 1/1024
# pixel, rounded to 1/32 (INTER_BITS); bilinear weights in 1/32768 (INTER_REMAP_COEF_BITS)
AB_SCALE = 1024
INTER_TAB = 32
ROUND_DELTA = AB_SCALE // INTER_TAB // 2
COEF_BITS = 15


def warp_coordinates(matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """What cv2.warpAffine(src, matrix, (width, height)) computes on the CPU before it
    samples: matrix (src -> dst) inverted in float64 as OpenCV inverts it, then per output
    row X0, Y0 and per output column the x and y steps, in 1/1024 pixel, rounded half to
    even as cvRound. (4, max(width, height)) int64: rows X0, Y0 (first `height`), then the
    column steps adelta, bdelta (first `width`); sample_fixed turns them into samples."""
    m = np.asarray(matrix, dtype=np.float64).reshape(6).copy()
    d = m[0] * m[4] - m[1] * m[3]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22 = m[4] * d, m[0] * d
    m[0], m[1], m[3], m[4] = a11, m[1] * -d, m[3] * -d, a22
    m[2], m[5] = -m[0] * m[2] - m[1] * m[5], -m[3] * m[2] - m[4] * m[5]
    rows = np.arange(height, dtype=np.float64)
    columns = np.arange(width, dtype=np.float64)
    out = np.zeros((4, max(width, height)), np.int64)
    out[0, :height] = np.rint((m[1] * rows + m[2]) * AB_SCALE).astype(np.int64) + ROUND_DELTA
    out[1, :height] = np.rint((m[4] * rows + m[5]) * AB_SCALE).astype(np.int64) + ROUND_DELTA
    out[2, :width] = np.rint(m[0] * columns * AB_SCALE).astype(np.int64)
    out[3, :width] = np.rint(m[3] * columns * AB_SCALE).astype(np.int64)
    return out


def sample_fixed(planes, coordinates, width: int, height: int, replicate: bool):
    """cv2.warpAffine's bilinear sampling, exactly: planes (C, H, W) uint8 values, or
    (N, C, H, W) one source per output; coordinates (N, 4, L) from warp_coordinates (as a
    float or int tensor); returns (N, C, height, width) uint8 values. Outside the source:
    0 (BORDER_CONSTANT) or the nearest edge pixel (replicate, BORDER_REPLICATE).

    Sums of weights (up to 32768) times levels (up to 255) stay below 2^24, so float32
    holds them exactly and the rounding shift is exact too."""
    torch = import_torch()
    coords = coordinates.round().long() if coordinates.dtype.is_floating_point else coordinates.long()
    step = AB_SCALE // INTER_TAB      # 1/1024 pixel to 1/32: OpenCV's >> (AB_BITS - INTER_BITS)
    x = torch.div(coords[:, 0, :height, None] + coords[:, 2, None, :width], step, rounding_mode="floor")
    y = torch.div(coords[:, 1, :height, None] + coords[:, 3, None, :width], step, rounding_mode="floor")
    x0, y0 = torch.div(x, INTER_TAB, rounding_mode="floor"), torch.div(y, INTER_TAB, rounding_mode="floor")
    fx, fy = (x - x0 * INTER_TAB).float(), (y - y0 * INTER_TAB).float()
    shared = planes.dim() == 3
    channels, source_h, source_w = planes.shape[-3:]
    flat = planes.reshape(channels, -1) if shared else planes.reshape(planes.shape[0], channels, -1)
    total = torch.zeros((len(coords), channels, height, width), dtype=planes.dtype, device=planes.device)
    scale = float(1 << COEF_BITS) / (INTER_TAB * INTER_TAB)
    for dy, wy in ((0, INTER_TAB - fy), (1, fy)):
        for dx, wx in ((0, INTER_TAB - fx), (1, fx)):
            sx, sy = x0 + dx, y0 + dy
            index = sy.clamp(0, source_h - 1) * source_w + sx.clamp(0, source_w - 1)      # (N, h, w)
            if shared:
                values = flat[:, index].permute(1, 0, 2, 3)                              # (N, C, h, w)
            else:
                values = torch.gather(flat, 2, index.reshape(len(coords), 1, -1).expand(-1, channels, -1))
                values = values.reshape(len(coords), channels, height, width)
            weight = wx * wy * scale
            if not replicate:   # a tap outside the source reads 0
                weight = weight * ((sx >= 0) & (sx < source_w) & (sy >= 0) & (sy < source_h))
            total += values * weight[:, None]
    return torch.floor((total + float(1 << (COEF_BITS - 1))) / float(1 << COEF_BITS)).clamp_(0.0, 255.0)


def crop_coordinates(matrices: np.ndarray, size: int) -> np.ndarray:
    """warp_coordinates of each frame->crop matrix, stacked for affine_crops: (N, 4, size)."""
    return np.stack([warp_coordinates(matrix, size, size) for matrix in matrices])


def affine_crops(planes, coordinates, size: int):
    """Aligned size x size crops (N, C, size, size) of one frame, exactly as
    cv2.warpAffine(frame, M, (size, size), borderValue=0) gives them; coordinates: a device
    tensor of crop_coordinates(M, size)."""
    return sample_fixed(planes, coordinates, size, size, replicate=False)


def box_coordinates(matrix: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """For warp_into_box: (1, 4, L) coordinates of the swapped crop drawn into the frame box
    (x0, y0, x1, y1) through the frame->crop matrix, with the matrix paste_face hands cv2."""
    from .paste import crop_to_box

    x0, y0, x1, y1 = box
    return warp_coordinates(crop_to_box(matrix, box), x1 - x0, y1 - y0)[None]


def warp_into_box(crop, coordinates, box: tuple[int, int, int, int]):
    """The swapped crop (C, S, S) drawn into the frame box, replicated border, exactly as
    paste_face's cv2.warpAffine; coordinates: a device tensor of box_coordinates."""
    x0, y0, x1, y1 = box
    return sample_fixed(crop, coordinates, x1 - x0, y1 - y0, replicate=True)[0]


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
    by = gaussian_matrix(rows, sigma), bx = gaussian_matrix(cols, sigma) on the device (or
    those times an area_matrix: a resize first, then the blur, as one product)."""
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
