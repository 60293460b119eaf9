"""Raw and compressed image buffers to RGB arrays."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose3d_ros.image_encoding import SUPPORTED_ENCODINGS, ImageError, compressed_to_rgb, image_to_rgb

H, W = 3, 4


def _rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def _encode(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """Pixel array in the given encoding's channel order (alpha = 77)."""
    alpha = np.full(rgb.shape[:2] + (1,), 77, dtype=np.uint8)
    return {
        "rgb8": rgb,
        "bgr8": rgb[..., ::-1],
        "rgba8": np.concatenate([rgb, alpha], axis=-1),
        "bgra8": np.concatenate([rgb[..., ::-1], alpha], axis=-1),
    }[encoding]


def _with_padding(pixels: np.ndarray, pad: int) -> tuple[int, bytes]:
    rows = pixels.reshape(pixels.shape[0], -1)
    padded = np.concatenate([rows, np.full((rows.shape[0], pad), 0xAB, dtype=np.uint8)], axis=1)
    return padded.shape[1], padded.tobytes()


@pytest.mark.parametrize("pad", [0, 5])
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings(encoding, pad):
    rgb = _rgb()
    step, data = _with_padding(np.ascontiguousarray(_encode(rgb, encoding)), pad)
    out = image_to_rgb(encoding, H, W, step, data)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("pad", [0, 3])
def test_mono8(pad):
    grey = np.arange(H * W, dtype=np.uint8).reshape(H, W) * 20
    step, data = _with_padding(grey, pad)
    out = image_to_rgb("mono8", H, W, step, data)
    assert out.shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_all_supported_encodings_listed():
    assert set(SUPPORTED_ENCODINGS) == {"rgb8", "bgr8", "rgba8", "bgra8", "mono8"}


def test_memoryview_and_extra_trailing_bytes():
    rgb = _rgb()
    data = rgb.tobytes() + b"\x00" * 7
    np.testing.assert_array_equal(image_to_rgb("rgb8", H, W, W * 3, memoryview(data)), rgb)


def test_result_is_a_copy():
    rgb = _rgb()
    buf = bytearray(rgb.tobytes())
    out = image_to_rgb("rgb8", H, W, W * 3, buf)
    buf[0] = (buf[0] + 1) % 256
    assert out[0, 0, 0] == rgb[0, 0, 0]
    out[0, 0, 0] = 0  # writable


@pytest.mark.parametrize("encoding, height, width, step, size, message", [
    ("16UC1", H, W, W * 2, H * W * 2, "unsupported encoding '16UC1'"),
    ("yuv422", H, W, W * 2, H * W * 2, "unsupported encoding"),
    ("rgb8", 0, W, W * 3, 0, "empty image"),
    ("rgb8", H, 0, 0, 0, "empty image"),
    ("rgb8", H, W, W * 3 - 1, H * W * 3, "step 11 is smaller"),
    ("rgba8", H, W, W * 3, H * W * 4, "step 12 is smaller"),
    ("rgb8", H, W, W * 3, H * W * 3 - 1, "data has 35 bytes"),
    ("bgr8", H, W, W * 3 + 2, H * W * 3, "expected step 14"),
])
def test_raw_errors(encoding, height, width, step, size, message):
    with pytest.raises(ImageError, match=message):
        image_to_rgb(encoding, height, width, step, bytes(size))


def test_image_error_is_value_error():
    assert issubclass(ImageError, ValueError)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_compressed_round_trip(ext):
    # smooth image so JPEG is close; PNG is exact
    yy, xx = np.mgrid[0:32, 0:48]
    rgb = np.stack([xx * 5, yy * 7, np.full_like(xx, 100)], axis=-1).astype(np.uint8)
    ok, enc = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    out = compressed_to_rgb(enc.tobytes())
    assert out.shape == (32, 48, 3) and out.dtype == np.uint8
    if ext == ".png":
        np.testing.assert_array_equal(out, rgb)
    else:
        assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 4
        # channel order: red grows along x, green along y
        assert out[16, 40, 0] > out[16, 5, 0] + 100
        assert out[30, 24, 1] > out[2, 24, 1] + 100


def test_compressed_grey_png_becomes_rgb():
    grey = np.tile(np.arange(0, 250, 25, dtype=np.uint8), (4, 1))
    ok, enc = cv2.imencode(".png", grey)
    out = compressed_to_rgb(memoryview(enc.tobytes()))
    assert out.shape == (4, 10, 3)
    np.testing.assert_array_equal(out[..., 2], grey)


def test_compressed_errors():
    with pytest.raises(ImageError, match="empty compressed image"):
        compressed_to_rgb(b"")
    with pytest.raises(ImageError, match="corrupt or unsupported compressed image \\(64 bytes\\)"):
        compressed_to_rgb(bytes(range(64)))
    ok, enc = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ImageError, match="corrupt"):
        compressed_to_rgb(enc.tobytes()[:20])
