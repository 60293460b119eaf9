"""The multi-view benchmark's lifter, offline: the cached cam01 detections through the lifter node's
core (OnlinePoseEstimator with the node's parameters) instead of the ROS chain, for tuning.

    .venv/bin/python bench/multiview_offline.py --variant "w6:fusion_weight=0.6" \
        --variant "art:model=lifter_articulated.json"

About 2 s per row and demo instead of a run of the nodes; the same inputs as bench/multiview.py
(cam01 keypoints at the published width, the detector's 3D, CameraInfo scaled like video_source's)
and, with the same parameters, the same skeletons (against the node chain: Trial_1's scores equal
to 0.1 mm; MultiPerson within 1.5 mm, the node chain matching tracks to people by their 2D).
Prints P-MPJPE, root error and limb std (mm) per person against the other-views and the
all-four-views references, with MediaPipe's world landmarks for comparison. Tune here, then
confirm with bench/multiview.py: the table in the README comes from the node chain.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import multiview_data as data  # noqa: E402
from multiview import add_row_arguments, mediapipe_world, rows_from_args  # noqa: E402

from pose3d_ros.geometry import camera_up  # noqa: E402
from pose3d_ros.lifting.inputs import PersonKeypoints  # noqa: E402
from pose3d_ros.lifting.online import OnlineLifter  # noqa: E402
from pose3d_ros.lifting.online_pose import OnlinePoseEstimator  # noqa: E402
from pose3d_ros.metrics import reference_scores  # noqa: E402
from pose3d_ros.networks.cards import load_model  # noqa: E402
from pose3d_ros.nodes.lifter import PARAMS, settings_from_params  # noqa: E402
from pose3d_ros.resources import resolve  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402


def lift(cache: dict, demo: str, params: dict) -> np.ndarray:
    """(F, P, 17, 3) skeletons in cam01's frame from the node's parameters over its defaults."""
    calib = data.cameras(demo)[data.EVAL_CAMERA]
    p = {q.name: q.default for q in PARAMS} | data.camera_tilt(calib) | params
    estimator = OnlinePoseEstimator(
        OnlineLifter(load_model(resolve(p["model"], "models")), "cpu", p["track_gap_s"],
                     min_confidence=p["min_joint_confidence"],
                     camera_up=camera_up(p["camera_pitch_deg"], p["camera_roll_deg"])), settings_from_params(p))
    full = calib.intrinsics
    width = int(cache["detect_width"])
    cam = full.scaled_to(width, round(full.height * width / full.width))  # the published image
    scale = np.array([cam.width / full.width, cam.height / full.height])
    out = np.full(cache["ref_others"].shape, np.nan)
    period = 1.0 / float(cache["fps"])
    for f in range(len(cache["keypoints"])):
        found = np.flatnonzero(cache["found"][f])
        people = [PersonKeypoints(int(cache["track_id"][f, p]), cache["keypoints"][f, p] * scale,
                                  cache["confidence"][f, p].astype(float), cache["world"][f, p].astype(float))
                  for p in found]
        by_id = {s.track_id: s.joints for s in estimator.update((f + 1) * period, people, cam) or []}
        for p in found:
            if int(cache["track_id"][f, p]) in by_id:
                out[f, p] = by_id[int(cache["track_id"][f, p])]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demos", nargs="+", default=list(data.DEMOS), choices=data.DEMOS)
    parser.add_argument("--backend", default="mediapipe_tasks", help="whose detection cache (default mediapipe_tasks)")
    add_row_arguments(parser)
    args = parser.parse_args()
    try:
        rows = rows_from_args(args.lifter_param, args.variant)  # the rows bench/multiview.py runs
    except ValueError as exc:
        parser.error(str(exc))
    torch.set_num_threads(1)  # as LifterNode
    data.fetch()
    for demo in args.demos:
        cache = data.demo_cache(demo, args.backend)
        poses = {"MediaPipe world landmarks": mediapipe_world(cache, data.cameras(demo)[data.EVAL_CAMERA].intrinsics)}
        poses |= {label: lift(cache, demo, params) for label, params in rows.items()}
        for person in range(cache["ref_others"].shape[1]):
            print(f"{demo} person {person}: P-MPJPE / root error / limb std (mm) (frames), "
                  "other-views reference | all-four-views reference")
            for label, pred in poses.items():
                cells = []
                for ref in ("ref_others", "ref_all"):
                    s = reference_scores(pred[:, person], cache[ref][:, person], H36M17.bones)
                    cells.append(f"{1000 * s['p_mpjpe']:6.1f} {1000 * s['root_error']:6.1f} "
                                 f"{1000 * s['bone_std']:5.1f} ({s['frames']:3d})")
                print(f"  {label:32s} " + " | ".join(cells))


if __name__ == "__main__":
    main()
