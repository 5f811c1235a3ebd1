"""5-point face alignment: a least-squares similarity transform (Umeyama, 1991).

Every insightface model that takes a face crop (ArcFace at 112, inswapper at 128) wants
the face warped so its 5 keypoints land on the ArcFace template. The fit is a few lines
of numpy; it replaces scikit-image's deprecated `SimilarityTransform.estimate`.
"""

from __future__ import annotations

import cv2
import numpy as np

# Left eye, right eye, nose tip, left mouth corner, right mouth corner, in a 112x112 crop.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,  # float32 as in insightface: the fitted matrix then matches its bit for bit
)


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 similarity (rotation, uniform scale, translation) that maps src onto dst
    with the least squared error; src and dst are (N, 2) with N >= 2.

    Computed in the inputs' precision (float32 keypoints stay float32 up to the final
    matrix), as the reference implementation does, so crops agree with it pixel for pixel.
    """
    src = np.asarray(src)
    dst = np.asarray(dst)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError("umeyama needs two (N, 2) point sets of the same shape, N >= 2")
    dtype = np.result_type(src.dtype, dst.dtype, np.float32)
    src = src.astype(dtype)
    dst = dst.astype(dtype)
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    src_c = src - src_mean
    dst_c = dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    if not np.isfinite(covariance).all():
        raise ValueError("the keypoints are not finite numbers")
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(covariance) < 0:
        sign[1] = -1.0
    src_var = float(src_c.var(axis=0).sum())
    if src_var <= 1e-12 or singular.max() <= 1e-12:
        raise ValueError("the keypoints coincide; no transform fits them")
    rotation = u @ np.diag(sign) @ vt
    scale = float(1.0 / src_var * (singular @ sign))
    matrix = np.eye(3)
    matrix[:2, 2] = dst_mean - scale * (rotation @ src_mean)
    matrix[:2, :2] = scale * rotation
    return matrix


def template_for(size: int) -> np.ndarray:
    """The ArcFace template scaled for a square crop of `size` pixels.

    Sizes that are multiples of 112 scale it; multiples of 128 (inswapper) scale it by
    size/128 and shift x by 8*size/128, as insightface does.
    """
    if size % 112 == 0:
        return ARCFACE_TEMPLATE * np.float32(size / 112.0)
    if size % 128 == 0:
        ratio = size / 128.0
        template = ARCFACE_TEMPLATE * np.float32(ratio)
        template[:, 0] += np.float32(8.0 * ratio)
        return template
    raise ValueError(f"crop size {size} is neither a multiple of 112 nor of 128")


def estimate_norm(keypoints: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 affine matrix that warps a frame so the 5 keypoints meet the template."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.shape != (5, 2):
        raise ValueError("alignment needs 5 keypoints as a (5, 2) array")
    return umeyama(keypoints, template_for(size))[:2]


def norm_crop(image: np.ndarray, keypoints: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The aligned size x size crop (same channels as image) and its 2x3 matrix."""
    matrix = estimate_norm(keypoints, size)
    crop = cv2.warpAffine(image, matrix, (size, size), borderValue=0.0)
    return crop, matrix
