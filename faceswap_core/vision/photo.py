"""Loading a user's photo without surprises.

Photos come from anywhere: phone JPEGs rotated by EXIF, 16-bit PNGs, grayscale scans,
half-downloaded files, or a 100-megapixel panorama. Each either becomes a BGR uint8 image
of bounded size or fails with one sentence that says what to do.
"""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import FaceSwapError

MAX_SIDE = 2048                 # larger photos are downscaled: a face needs no more
MAX_FILE_BYTES = 200 * 1024**2  # nothing a photo should be
MAX_PIXELS = 400_000_000        # refuse decompression bombs before decoding


def load_photo(path: str | os.PathLike, max_side: int = MAX_SIDE) -> np.ndarray:
    """A BGR uint8 image whose longest side is at most max_side; raises FaceSwapError."""
    path = os.fspath(path)
    name = os.path.basename(path) or path
    if not os.path.exists(path):
        raise FaceSwapError(f"The photo '{path}' does not exist; check the path or pick the file again.")
    if os.path.isdir(path):
        raise FaceSwapError(f"'{path}' is a folder; choose an image file inside it.")
    size = os.path.getsize(path)
    if size == 0:
        raise FaceSwapError(f"The photo '{name}' is empty (0 bytes); choose another photo.")
    if size > MAX_FILE_BYTES:
        raise FaceSwapError(f"The photo '{name}' is {size // 1024**2} MB; choose a photo under 200 MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is below
            image = Image.open(path)
        with image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise FaceSwapError(
                    f"The photo '{name}' is {width}x{height} pixels; resize it below 400 megapixels and try again."
                )
            # JPEG can decode at 1/2, 1/4 or 1/8 size directly: a huge photo never lands in memory whole.
            image.draft("RGB", (max_side, max_side))
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb8(image)
    except FaceSwapError:
        raise
    except Image.DecompressionBombError:
        raise FaceSwapError(
            f"The photo '{name}' has too many pixels to open safely; resize it below 400 megapixels and try again."
        ) from None
    except UnidentifiedImageError:
        raise FaceSwapError(f"'{name}' is not an image this program can read; use a JPEG or PNG photo.") from None
    except (OSError, SyntaxError, ValueError):
        raise FaceSwapError(f"The photo '{name}' is damaged or incomplete; save or download it again.") from None
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return fit_within(bgr, max_side)


def fit_within(image: np.ndarray, max_side: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """Downscale (never upscale) so the longest side is at most max_side. INTER_LINEAR for
    what is scaled on every frame (INTER_AREA costs 4 ms on a 1080p frame)."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=interpolation)


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """Any Pillow mode as 8-bit RGB; 16-bit and float images are scaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        gray = np.clip(values * (255.0 / high), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = background
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
