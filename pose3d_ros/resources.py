"""Where the package's data lives: a source checkout or the installed share directory."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = "pose3d_ros"
_REPO = Path(__file__).resolve().parent.parent


def share_dir() -> Path:
    """The directory holding config/, launch/ and models/.

    A source checkout (package.xml beside the package) wins, so freshly trained models are
    used without reinstalling; otherwise the ament share directory of the installed package.
    """
    if (_REPO / "package.xml").is_file() and (_REPO / "models").is_dir():
        return _REPO
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory(PACKAGE))


def resolve(path: str, subdir: str) -> Path:
    """``path`` itself if it exists (absolute or relative to the working directory),
    else the file of that name in share_dir()/subdir."""
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() or p.exists() else share_dir() / subdir / p


def sample_clip() -> Path:
    """The sample clip fetched by scripts/fetch_sample_clip.py (POSE3D_SAMPLE_CLIP overrides)."""
    return Path(os.environ.get("POSE3D_SAMPLE_CLIP", _REPO / ".cache" / "sample" / "demo.mp4"))
