"""The photo loader and the worker's photo entry point fed every kind of image file.

tests/vision/test_photo.py mutates the bytes of one real JPEG and one PNG. This adds what the
filter's file dialog also lets a user pick (BMP, WebP, and TIFF/GIF renamed .jpg):
synthetic images of every Pillow mode and odd sizes (1x1, 1xN, alpha, 16-bit, palette,
CMYK), then with their bytes mutated. load_photo must return a BGR uint8 image or raise
FaceSwapError, and the engine's set_source_file (what the worker calls) the same.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faceswap_core.errors import FaceSwapError
from faceswap_core.vision.photo import load_photo

Image = pytest.importorskip("PIL.Image")

MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "LA", "I;16", "I", "F", "YCbCr", "PA"]
FORMATS = ["PNG", "BMP", "WEBP", "TIFF", "GIF", "JPEG"]
BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def image_files(draw) -> bytes:
    mode, fmt = draw(st.sampled_from(MODES)), draw(st.sampled_from(FORMATS))
    width, height = draw(st.integers(1, 96)), draw(st.integers(1, 96))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    image = Image.fromarray(pixels, "RGB")
    try:
        image = image.convert(mode)
    except (ValueError, OSError):
        pass
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt)
    except (OSError, ValueError, KeyError):
        image.convert("RGB").save(buffer, fmt)
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 3))):   # then corrupt it a little (or not at all)
        offset = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        data[offset:offset + len(patch)] = patch
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    return bytes(data)


def _check(path) -> None:
    try:
        image = load_photo(path)
    except FaceSwapError as error:
        assert str(error).endswith("."), str(error)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.size > 0


@pytest.mark.filterwarnings("ignore::UserWarning")   # Pillow warns about corrupt EXIF and such
@BOUNDED
@given(data=image_files(), name=st.sampled_from(["photo.jpg", "photo.png", "photo.bmp", "photo.webp"]))
def test_any_image_file_loads_or_says_why(tmp_path_factory, data, name):
    path = tmp_path_factory.mktemp("photo") / name
    path.write_bytes(data)
    _check(path)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=image_files())
def test_the_worker_entry_point_takes_any_photo(engine, tmp_path_factory, data):
    """What the worker calls when the filter publishes a photo: a FaceSwapError at worst."""
    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    path.write_bytes(data)
    try:
        engine.set_source_file(str(path), 0)
    except FaceSwapError as error:
        assert str(error).endswith("."), str(error)


@pytest.fixture(scope="module")
def engine():
    from faceswap_core.engines import create_engine

    created = create_engine("landmark")
    yield created
    created.close()
