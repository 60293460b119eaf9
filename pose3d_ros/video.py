"""Frame sources: a video file, a folder of images, or a camera device."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DEFAULT_FOLDER_FPS = 30.0


class FrameSource:
    """BGR frames from ``source``: a video file, an image folder, or a device
    (an integer index or a /dev/video* path). ``resize_width`` > 0 resizes frames,
    keeping the aspect ratio."""

    def __init__(self, source: str, resize_width: int = 0) -> None:
        self.source = str(source)
        self.resize_width = resize_width
        self.is_device = self.source.isdigit() or self.source.startswith("/dev/video")
        path = Path(self.source)
        self._files: list[Path] = []
        self._cap = None
        if path.is_dir():
            self._files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
            self.fps = DEFAULT_FOLDER_FPS
        else:
            if not self.is_device and not path.is_file():
                raise FileNotFoundError(f"video source not found: {path}")
            self._cap = cv2.VideoCapture(int(self.source) if self.source.isdigit() else self.source)
            if not self._cap.isOpened():
                raise OSError(f"cannot open video source {self.source}")
            fps = self._cap.get(cv2.CAP_PROP_FPS)
            self.fps = fps if fps and fps > 0 else DEFAULT_FOLDER_FPS
        self._index = 0

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of a file or folder."""
        if self._cap is not None:
            ok, frame = self._cap.read()
            frame = frame if ok else None
        elif self._index < len(self._files):
            frame = cv2.imread(str(self._files[self._index]), cv2.IMREAD_COLOR)
            if frame is None:
                raise OSError(f"cannot read image {self._files[self._index]}")
        else:
            frame = None
        if frame is None:
            return None
        self._index += 1
        if self.resize_width > 0 and frame.shape[1] != self.resize_width:
            height = round(frame.shape[0] * self.resize_width / frame.shape[1])
            # Bilinear: 0.7 ms for 1768x994 -> 640x360 where INTER_AREA takes 7.7 ms at a non-integer
            # scale; the detector resamples to its own input size anyway.
            frame = cv2.resize(frame, (self.resize_width, height), interpolation=cv2.INTER_LINEAR)
        return frame

    def rewind(self) -> bool:
        """Start again from the first frame; False for devices, which cannot rewind."""
        if self.is_device:
            return False
        self._index = 0
        if self._cap is not None:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        return True

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
