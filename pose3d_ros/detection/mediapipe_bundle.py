"""The MediaPipe Tasks pose landmarker bundle, assembled from the installed mediapipe wheel.

mediapipe 0.10.21 ships BlazePose's person detector and full landmark model as bare .tflite
files (for its legacy solution). The Tasks ``PoseLandmarker`` wants them as one .task bundle
(a zip of ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``) whose models carry
TFLite metadata naming their input normalisation; a bare zip without it is refused. Both are
written here with mediapipe's own metadata writers, offline, once, into a cache file named
after the mediapipe version.

    python -m pose3d_ros.detection.mediapipe_bundle    # build (if missing) and print its path
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

BUNDLE_MODELS = {  # name in the bundle: (file in the wheel's modules/, input mean, input std)
    "pose_detector.tflite": ("pose_detection/pose_detection.tflite", 127.5, 127.5),
    "pose_landmarks_detector.tflite": ("pose_landmark/pose_landmark_full.tflite", 0.0, 255.0),
}


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/pose3d_ros (default ~/.cache/pose3d_ros)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pose3d_ros"


def wheel_modules_dir() -> Path:
    """The ``modules/`` folder of the installed mediapipe package."""
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules"


def _with_input_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name).add_image_input([mean], [std])
    return bytes(writer.populate()[0])


def _is_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as bundle:
            return set(bundle.namelist()) == set(BUNDLE_MODELS)
    except (OSError, zipfile.BadZipFile):
        return False


def pose_landmarker_bundle(directory: Path | None = None, modules_dir: Path | None = None) -> Path:
    """The bundle's path, built first if ``directory`` (default: cache_dir()) has no valid one.

    Idempotent, and safe for concurrent callers: the bundle is written to a temporary file
    and renamed into place. FileNotFoundError names a model missing from the wheel."""
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    directory = cache_dir() if directory is None else Path(directory)
    path = directory / f"pose_landmarker_full-mediapipe{mediapipe.__version__}.task"
    if _is_bundle(path):
        return path
    modules_dir = wheel_modules_dir() if modules_dir is None else Path(modules_dir)
    models = {}
    for name, (source, mean, std) in BUNDLE_MODELS.items():
        model = modules_dir / source
        if not model.is_file():
            raise FileNotFoundError(
                f"{model} is missing: the mediapipe_tasks backend builds its model from the pose models that "
                f"mediapipe 0.10.21 ships in its wheel (installed: {mediapipe.__version__}; releases from "
                f"0.10.30 on no longer ship them); install mediapipe==0.10.21 (requirements.txt)")
        models[name] = _with_input_metadata(model.read_bytes(), name.removesuffix(".tflite"), mean, std)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        model_asset_bundle_utils.create_model_asset_bundle(models, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


if __name__ == "__main__":
    print(pose_landmarker_bundle())
