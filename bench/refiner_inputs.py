"""The shipped refiner on other 2D inputs: P1 and MPJVE of the lifter alone and refined, S9/S11.

    .venv/bin/python bench/refiner_inputs.py --input sh [--cameras 4]

The shipped refiner was trained on the default lifter's outputs from Stacked Hourglass
detections of S1-S8; this measures its correction on the test subjects' detections
(``--input sh``) and on clean 2D (``--input gt``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose3d_ros.networks.cards import load_model  # noqa: E402
from training.data import H36M_TEST_SUBJECTS  # noqa: E402
from training.train_refiner import evaluate, lifter_outputs  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifter", default=str(ROOT / "models" / "lifter_articulated.json"))
    parser.add_argument("--refiner", default=str(ROOT / "models" / "refiner_tpnet.json"))
    parser.add_argument("--input", choices=["gt", "sh"], default="sh")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    pairs = lifter_outputs(load_model(args.lifter), Path(args.data_root) / "h36m", H36M_TEST_SUBJECTS, args.cameras,
                           args.input)
    result = evaluate(load_model(args.refiner).model, pairs)
    print(f"{args.input} 2D, S9/S11, {args.cameras} cameras, frame-weighted: "
          f"lifter P1 {result['lifter_p1_mm']:.2f} mm, refined {result['refined_p1_mm']:.2f} mm; "
          f"MPJVE {result['lifter_mpjve_mm']:.2f} -> {result['refined_mpjve_mm']:.2f} mm")


if __name__ == "__main__":
    main()
