"""FrameSource over image folders and video files."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose3d_ros.video import DEFAULT_FOLDER_FPS, FrameSource


def _frame(k: int, h: int = 24, w: int = 32) -> np.ndarray:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[..., 0] = 40 * (k + 1)      # blue encodes the frame number
    img[:, : w // 2, 2] = 200
    return img


@pytest.fixture
def folder(tmp_path):
    for k in range(3):
        assert cv2.imwrite(str(tmp_path / f"frame_{k:03d}.png"), _frame(k))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_folder_reads_in_order_then_none(folder):
    src = FrameSource(str(folder))
    assert not src.is_device and src.fps == DEFAULT_FOLDER_FPS
    for k in range(3):
        frame = src.read()
        assert frame is not None
        np.testing.assert_array_equal(frame, _frame(k))
    assert src.read() is None
    assert src.read() is None
    src.close()


def test_folder_rewind(folder):
    src = FrameSource(folder)
    first = src.read()
    src.read()
    assert src.rewind() is True
    np.testing.assert_array_equal(src.read(), first)
    assert src.read() is not None and src.read() is not None and src.read() is None


def test_resize_keeps_aspect_ratio(folder):
    src = FrameSource(str(folder), resize_width=16)
    frame = src.read()
    assert frame.shape == (12, 16, 3)
    assert frame[0, 0, 2] == 200 and frame[0, 15, 2] == 0   # left half still red
    up = FrameSource(str(folder), resize_width=48).read()
    assert up.shape == (36, 48, 3)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_video.mp4"):
        FrameSource(str(tmp_path / "no_such_video.mp4"))


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no images"):
        FrameSource(str(tmp_path))


def test_video_file(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (32, 24))
    assert writer.isOpened()
    for k in range(5):
        writer.write(_frame(k))
    writer.release()
    src = FrameSource(str(path), resize_width=16)
    assert src.fps == pytest.approx(10.0)
    frames = []
    while (frame := src.read()) is not None:
        frames.append(frame)
    assert len(frames) == 5
    assert all(f.shape == (12, 16, 3) for f in frames)
    # lossy, but the blue level still tells the frames apart
    blues = [float(f[..., 0].mean()) for f in frames]
    assert blues == sorted(blues) and blues[-1] - blues[0] > 100
    assert src.rewind()
    assert src.read() is not None
    src.close()
