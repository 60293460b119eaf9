"""Streaming replay of Human3.6M S9/S11 through the lifter node's code path, with and without each refinement.

    .venv/bin/python bench/lifter_replay.py --model models/lifter_articulated.json --refiner models/refiner_tpnet.json
    ... --variant "+ fitting, prior 10:fitting=true,prior_frames=10"   # a row: lifter parameters

One stream per camera, as the node sees one camera: every frame is a ``keypoints``
PointCloud2 with all of that camera's sequences as simultaneous tracks (ground-truth 2D,
confidence 1, 50 Hz stamps), decoded by the node's codec (clouds.keypoints_from_cloud) and lifted once by
OnlineLifter; the lifted people then go through one OnlinePoseEstimator per configuration
(node defaults, checks in flag mode). Frame-weighted over all sequences: P1 (root-relative
MPJPE), MPJVE, bone-length std, root position error of the metric output (the known H36M
intrinsics; the lifter ignores H36M's lens distortion) and the share of poses failing each
check. Prints a Markdown table, and the offline evaluation's P1 (training.evaluate's
predict_sequence on the same sequences) next to the streamed P1 of the plain lifter. Needs
../shared/data (never commit anything derived from it).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rclpy.time import Time
from std_msgs.msg import Header

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from multiview import parse_variant  # noqa: E402  (bench/: one --variant syntax for both benches)

from pose3d_ros.constraints import CHECKS  # noqa: E402
from pose3d_ros.lifting.inputs import PersonKeypoints  # noqa: E402
from pose3d_ros.lifting.online import OnlineLifter  # noqa: E402
from pose3d_ros.lifting.online_pose import OnlinePoseEstimator  # noqa: E402
from pose3d_ros.lifting.refinement import load_refiner  # noqa: E402
from pose3d_ros.lifting.sequence import predict_sequence  # noqa: E402
from pose3d_ros.metrics import bone_length_std, mpjpe, mpjve, root_position_error  # noqa: E402
from pose3d_ros.networks.cards import load_model  # noqa: E402
from pose3d_ros.nodes.clouds import keypoints_from_cloud, keypoints_to_cloud  # noqa: E402
from pose3d_ros.nodes.lifter import PARAMS, settings_from_params  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402
from training.data import H36M_MISSING_NOTE, load_h36m, model_inputs  # noqa: E402


class SharedLifter:
    """Lifts each frame once for all configurations (the estimators never modify the result),
    with track states of its own, by track id, in place of each estimator's."""

    def __init__(self, lifter: OnlineLifter) -> None:
        self.lifter, self.stamp, self.out, self.tracks = lifter, None, [], {}

    def new_track(self) -> None:
        return None

    def update(self, stamp, people, intrinsics, tracks):
        if stamp != self.stamp:
            states = [self.tracks.setdefault(p.track_id, self.lifter.new_track()) for p in people]
            self.stamp, self.out = stamp, self.lifter.update(stamp, people, intrinsics, states)
        return self.out


def cloud(k: int, seqs: list) -> object:
    """Frame k (50 Hz stamps) of the sequences still running, as the detector node publishes them."""
    people = [PersonKeypoints(tid, s.keypoints_2d[k], np.ones(17)) for tid, s in enumerate(seqs)
              if k < len(s.keypoints_2d)]
    return keypoints_to_cloud(Header(stamp=Time(nanoseconds=k * 20_000_000).to_msg(), frame_id="cam"), people)


def replay_camera(seqs: list, model: Path, configs: dict) -> tuple[dict, dict]:
    """Outputs (camera frame, metres) per configuration (node parameters over the defaults, and a
    refiner) and sequence, and the check counts."""
    defaults = {p.name: p.default for p in PARAMS} | {"pose_source": "model", "refiner_model": ""}
    shared = SharedLifter(OnlineLifter(load_model(model), "cpu"))
    estimators = {name: OnlinePoseEstimator(shared, settings_from_params(dict(defaults, **params)), refiner)
                  for name, (params, refiner) in configs.items()}
    out = {name: [np.zeros(s.positions_3d.shape, np.float32) for s in seqs] for name in configs}
    cam = seqs[0].intrinsics
    for k in range(max(len(s.keypoints_2d) for s in seqs)):
        msg = cloud(k, seqs)
        stamp = k * 0.02
        people = keypoints_from_cloud(msg, (cam.width, cam.height)).people
        for name, est in estimators.items():
            est.evict(stamp)
            for skel in est.update(stamp, people, cam):
                out[name][skel.track_id][k] = skel.joints
    return out, {name: est.counts for name, est in estimators.items()}


def summarise(seqs: list, outputs: list[np.ndarray], counts) -> dict:
    rows = []
    for s, pred in zip(seqs, outputs):
        target = s.positions_3d.astype(np.float64)
        pred = pred.astype(np.float64)
        rel, trel = pred - pred[:, :1], target - target[:, :1]
        rows.append((len(pred), mpjpe(rel, trel), mpjve(rel, trel), bone_length_std(rel, H36M17.bones),
                     root_position_error(pred[:, 0], target[:, 0])))
    rows = np.array(rows)
    n = rows[:, 0].sum()
    p1, ve, bstd, root = 1000 * (rows[:, 1:] * rows[:, :1]).sum(axis=0) / n
    shares = {c: 100.0 * counts.get(f"violation_{c}", 0) / counts["poses"] for c in CHECKS}
    return {"frames": int(n), "p1_mm": p1, "mpjve_mm": ve, "bone_std_mm": bstd, "root_mm": root, "shares": shares}


def offline_p1(seqs: list, model: Path) -> float:
    """Frame-weighted root-relative MPJPE (mm) of the offline evaluation's predictions."""
    loaded = load_model(model)
    errors = [(len(s.positions_3d), mpjpe(predict_sequence(loaded.model, model_inputs(s), loaded.receptive_field,
                                                           loaded.causal),
                                          s.positions_3d - s.positions_3d[:, :1])) for s in seqs]
    n = sum(e[0] for e in errors)
    return 1000 * sum(e[0] * e[1] for e in errors) / n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    node_default = next(p.default for p in PARAMS if p.name == "model")
    parser.add_argument("--model", default=str(ROOT / "models" / node_default),
                        help=f"model card (default: the lifter node's, {node_default})")
    parser.add_argument("--refiner", default="", help="model card of a trained refiner (adds two configurations)")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--subjects", nargs="+", default=["S9", "S11"])
    parser.add_argument("--cameras", nargs="+", default=None, help="camera ids (default: all four)")
    parser.add_argument("--input", default="gt", choices=("gt", "sh"),
                        help="2D keypoints: ground truth or Stacked Hourglass detections (confidence 1)")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:P=V,P=V",
                        help="an extra row: lifter node parameters over the defaults (e.g. prior_frames=10)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as LifterNode
    plain = {"fitting": False, "bone_length_refinement": False}
    configs = {"lifter": (plain, None), "+ bone lengths": (dict(plain, bone_length_refinement=True), None),
               "+ fitting": ({"fitting": True}, None)}
    configs.update({label: (params, None) for label, params in map(parse_variant, args.variant)})
    if args.refiner:
        refiner = load_refiner(args.refiner).model
        configs.update({"+ refiner": (plain, refiner),
                        "+ refiner + bone lengths": (dict(plain, bone_length_refinement=True), refiner)})
    seqs = load_h36m(Path(args.data_root) / "h36m", tuple(args.subjects), args.input)
    cameras = args.cameras or sorted({s.camera for s in seqs})
    start = time.time()
    outputs = {name: [] for name in configs}
    totals = {name: {} for name in configs}
    used = []
    for camera in cameras:
        cam_seqs = [s for s in seqs if s.camera == camera]
        out, counts = replay_camera(cam_seqs, Path(args.model), configs)
        used += cam_seqs
        for name in configs:
            outputs[name] += out[name]
            for key, n in counts[name].items():
                totals[name][key] = totals[name].get(key, 0) + n
        print(f"camera {camera}: {len(cam_seqs)} sequences, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    kind = "ground-truth 2D" if args.input == "gt" else "Stacked Hourglass 2D"
    print(f"Human3.6M {' '.join(args.subjects)}, cameras {' '.join(cameras)}, {kind}, streamed at 50 Hz "
          f"({H36M_MISSING_NOTE}); model {Path(args.model).name}\n")
    print("| configuration | frames | P1 mm | MPJVE mm | bone-length std mm | root position error mm | "
          + " | ".join(f"{c} %" for c in CHECKS) + " |")
    print("|---" * (6 + len(CHECKS)) + "|")
    for name in configs:
        r = summarise(used, outputs[name], totals[name])
        print(f"| {name} | {r['frames']} | {r['p1_mm']:.2f} | {r['mpjve_mm']:.2f} | {r['bone_std_mm']:.2f} | "
              f"{r['root_mm']:.1f} | " + " | ".join(f"{r['shares'][c]:.2f}" for c in CHECKS) + " |")
    streamed = summarise(used, outputs["lifter"], totals["lifter"])["p1_mm"]
    offline = offline_p1(used, Path(args.model))
    print(f"\nP1 of the plain lifter: streamed {streamed:.3f} mm, offline evaluation {offline:.3f} mm "
          f"(difference {abs(streamed - offline):.4f} mm); {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
