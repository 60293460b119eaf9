"""In-the-wild 3D benchmark on a calibrated multi-view recording (Pose2Sim's demos, 4 cameras, 60 fps).

    PYTHONPATH=$PWD .venv/bin/python bench/multiview.py --output output/multiview.md
    ... --lifter-param fusion_weight=0.5                         # every pipeline row
    ... --variant articulated:model=lifter_articulated.json,constraint_mode=correct
    ... --backend mediapipe --demos Trial_1

cam01 runs through the real nodes as a robot would (video_source -> keypoint_detector -> lifter,
CameraInfo from the Qualisys calibration with its distortion D), one frame at a time: the bench
steps a simulated clock (/clock, video_source with use_sim_time) one frame period at a time, so the
stamps are 1/fps apart, and waits for every lifter's skeletons_3d of that stamp before the next,
so no frame is dropped. One detector feeds one lifter per row (remapped skeletons_3d_<row>).

The reference is triangulated from the other cameras (cam02-04) and from all four
(bench/multiview_data.py: its docstring has the cache format). Rows: the MediaPipe world landmarks
(root placed by the lifter's root solve, lifting.inputs.root_translation, against cam01's
undistorted normalised 2D), the pipeline with its defaults, any --variant, a reference check per
person (the other-views reference projected into cam01 against cam01's own 2D, the root error
a perfect depth on cam01's 2D pelvis ray would have: a floor for any monocular placement, and the
median epipolar distance of each pair of cameras on that person), and
the four-view reference scored against the other-views one (the reference's own noise floor;
its limb std is the four-view reference's).
Columns per reference: P-MPJPE, root-relative MPJPE, root position error, limb-length std (mm)
and frames scored (frames where the prediction and the reference are complete). Velocities: the
pelvis velocity each row publishes (vx, vy, vz; for MediaPipe's world landmarks the lifter's
VelocityFilter over their placed positions) against the all-views reference's central
differences over +-0.1 s, mean absolute error per axis (m/s), beside the reference's own speed
and the other-views reference's differences from it. People: each
cam01 track is matched per frame to a reference person by 2D distance to the reference's
projection; one table per reference person. The legacy mediapipe backend detects one person per
image, so on MultiPerson only the person cam01's detector follows is scored (and the reference has
only the people two or more views detected).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import multiview_data as data  # noqa: E402

from pose3d_ros.calibration import write_ros_calibration  # noqa: E402
from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project  # noqa: E402
from pose3d_ros.lifting.inputs import root_translation  # noqa: E402
from pose3d_ros.lifting.smoothing import VelocityFilter  # noqa: E402
from pose3d_ros.metrics import reference_scores  # noqa: E402
from pose3d_ros.nodes.lifter import PARAMS as LIFTER_PARAMS  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402

REFERENCES = (("ref_others", "other 3 views"), ("ref_all", "all 4 views"))
VELOCITY_HALF_WINDOW_S = 0.1  # the reference's velocity: central differences over +-0.1 s
FLOOR = "all-views reference (noise floor)"
TIMEOUT_S = 60.0  # longest wait for one frame's skeletons


def parse_value(name: str, text: str, default):
    """A parameter value from the command line, typed like the parameter's default."""
    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise ValueError(f"lifter parameter {name} is a bool: true or false, not {text!r}")
        return text.lower() == "true"
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    return text.strip("'\"")


def lifter_params(assignments: list[str]) -> dict:
    """``name=value`` strings -> {name: typed value}, checked against the lifter node's parameters."""
    defaults = {p.name: p.default for p in LIFTER_PARAMS}
    out = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        name = name.strip().removesuffix(":")
        if not sep or name not in defaults:
            raise ValueError(f"{item!r}: expected name=value with a lifter parameter "
                             f"({', '.join(sorted(defaults))})")
        out[name] = parse_value(name, value, defaults[name])
    return out


def parse_variant(spec: str) -> tuple[str, dict]:
    """``label:param=value,param=value`` -> (label, {param: typed value})."""
    label, sep, params = spec.partition(":")
    if not sep or not label:
        raise ValueError(f"--variant {spec!r}: expected name:param=value,param=value")
    return label, lifter_params([p for p in params.split(",") if p])


def rows_from_args(common: list[str], variants: list[str]) -> dict[str, dict]:
    """Pipeline rows: label -> lifter parameters (the common ones, then the row's own)."""
    base = lifter_params(common)
    rows = {"pipeline (default)": dict(base)}
    for label, params in map(parse_variant, variants):
        rows[f"pipeline {label}"] = {**base, **params}
    return rows


def add_row_arguments(parser: argparse.ArgumentParser) -> None:
    """--lifter-param and --variant, the pipeline rows (rows_from_args) of both multi-view benches."""
    parser.add_argument("--lifter-param", action="append", default=[], metavar="NAME=VALUE",
                        help="lifter parameter for every pipeline row (repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:P=V,P=V",
                        help="an extra pipeline row with these lifter parameters (repeatable)")


def run_pipeline(video: Path, calibration: Path, fps: float, backend: str,
                 rows: dict[str, dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    """cam01 through video_source -> keypoint_detector -> one lifter per row, frame by frame.
    Returns, per frame, the detector's people {track_id: (keypoints (17, 2) pixels of the published
    image, confidence (17,))} and per row the lifter's {track_id: joints and velocities (17, 6)}."""
    import rclpy
    from builtin_interfaces.msg import Time as TimeMsg
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import PointCloud2

    from pose3d_ros.nodes.clouds import keypoints_from_cloud, skeletons_from_cloud
    from pose3d_ros.nodes.keypoint_detector import KeypointDetectorNode
    from pose3d_ros.nodes.lifter import LifterNode
    from pose3d_ros.nodes.video_source import VideoSourceNode

    rclpy.init()
    nodes = []
    try:
        probe = Node("multiview_bench")
        clock = probe.create_publisher(Clock, "/clock", 10)
        keypoints: dict[int, dict] = {}
        skeletons: list[dict[int, dict]] = [{} for _ in rows]

        def stamp_ns(msg) -> int:
            return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec

        def on_keypoints(msg):
            keypoints[stamp_ns(msg)] = {p.track_id: (np.nan_to_num(p.keypoints), p.confidence)  # unseen: conf 0
                                        for p in keypoints_from_cloud(msg).people}

        def on_skeletons(i):
            def callback(msg):
                skeletons[i][stamp_ns(msg)] = {s.track_id: np.concatenate([s.joints, s.velocity], axis=-1)
                                               for s in skeletons_from_cloud(msg)}
            return callback

        probe.create_subscription(PointCloud2, "keypoints", on_keypoints, 100)
        source = VideoSourceNode(parameter_overrides=[
            Parameter("source", value=str(video)), Parameter("camera_info_file", value=str(calibration)),
            Parameter("rate_hz", value=float(fps)), Parameter("use_sim_time", value=True)])
        detector = KeypointDetectorNode(parameter_overrides=[Parameter("backend", value=backend),
                                                             Parameter("image_reliability", value="reliable")])
        lifters = []
        for i, params in enumerate(rows.values()):
            lifters.append(LifterNode(
                parameter_overrides=[Parameter(k, value=v) for k, v in params.items()],
                cli_args=["--ros-args", "-r", f"__node:=lifter_{i}", "-r", f"skeletons_3d:=skeletons_3d_{i}",
                          "-r", f"skeleton_markers:=skeleton_markers_{i}"]))
            probe.create_subscription(PointCloud2, f"skeletons_3d_{i}", on_skeletons(i), 100)
        nodes = [probe, source, detector, *lifters]
        executor = SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)

        def wait(condition, what: str) -> None:
            deadline = time.monotonic() + TIMEOUT_S
            while not condition():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out waiting for {what}")
                executor.spin_once(timeout_sec=0.01)

        n = len(lifters)
        wait(lambda: (clock.get_subscription_count() >= 1 and source.image_pub.get_subscription_count() >= 1
                      and source.info_pub.get_subscription_count() >= n
                      and detector.pub.get_subscription_count() >= n + 1
                      and all(lf.skeleton_pub.get_subscription_count() >= 1 for lf in lifters)), "discovery")
        period_ns = round(1e9 / fps)
        frames = []
        for k in itertools.count():
            t = (k + 1) * period_ns
            clock.publish(Clock(clock=TimeMsg(sec=t // 10**9, nanosec=t % 10**9)))
            wait(lambda: source.published > k or source.finished, f"video_source's frame {k}")
            if source.finished:
                break
            wait(lambda: t in keypoints and all(t in s for s in skeletons), f"frame {k}'s keypoints and skeletons")
            frames.append(t)
        people = [keypoints[t] for t in frames]
        return people, {label: [skeletons[i][t] for t in frames] for i, label in enumerate(rows)}
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()


def mediapipe_world(cache: dict, cam: CameraIntrinsics) -> np.ndarray:
    """The detector's world landmarks (F, P, 17, 3) placed in the camera frame by the lifter's root
    solve against the undistorted normalised 2D; NaN where not found or not solvable."""
    out = np.full(cache["world"].shape, np.nan)
    for f, p in np.argwhere(cache["found"]):
        uv = normalize_with_intrinsics(cache["keypoints"][f, p], cam)
        t = root_translation(cache["world"][f, p], uv, cache["confidence"][f, p])
        if t is not None:
            out[f, p] = cache["world"][f, p] + t
    return out


def pipeline_poses(people: list[dict], skeletons: list[dict], cache: dict, demo: str,
                   published: CameraIntrinsics) -> np.ndarray:
    """One row's poses and velocities (F, P, 17, 6): per frame, each track matched to a reference
    person by its 2D."""
    cam = data.cameras(demo)[data.EVAL_CAMERA]
    scale = np.array([cam.intrinsics.width / published.width, cam.intrinsics.height / published.height])
    n_frames, n_people = cache["ref_all"].shape[:2]
    out = np.full((n_frames, n_people, 17, 6), np.nan)
    for f in range(min(n_frames, len(people))):
        tids = [tid for tid in people[f] if tid in skeletons[f]]
        if not tids:
            continue
        kps = np.stack([people[f][tid][0] * scale for tid in tids])
        conf = np.stack([people[f][tid][1] for tid in tids])
        for tid, p in zip(tids, data.match_people(kps, conf, cam, cache["ref_all"][f],
                                                  data.MATCH_FRACTION * cam.intrinsics.height)):
            if p >= 0:
                out[f, p] = skeletons[f][tid]
    return out


def score_table(poses: dict[str, np.ndarray], cache: dict, person: int) -> list[list[str]]:
    """Markdown rows: label, then per reference P-MPJPE, MPJPE, root error, limb std (mm), frames."""
    rows = []
    for label, pred in poses.items():
        cells = [label]
        for key, _ in REFERENCES:
            if label == FLOOR and key == "ref_all":
                cells += ["-"] * 5
                continue
            s = reference_scores(pred[:, person], cache[key][:, person], H36M17.bones)
            cells += [f"{1000 * s[m]:.1f}" if np.isfinite(s[m]) else "n/a"
                      for m in ("p_mpjpe", "mpjpe", "root_error", "bone_std")] + [str(s["frames"])]
        rows.append(cells)
    return rows


def reference_velocity(positions: np.ndarray, fps: float) -> np.ndarray:
    """(F, ...) positions -> their central differences over +-VELOCITY_HALF_WINDOW_S (NaN at the ends)."""
    h = max(1, round(VELOCITY_HALF_WINDOW_S * fps))
    out = np.full(positions.shape, np.nan)
    out[h:-h] = (positions[2 * h:] - positions[:-2 * h]) * fps / (2 * h)
    return out


def filtered_velocity(positions: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """(F, P, 17, 3) positions -> the velocities the lifter would publish for them (its VelocityFilter
    per person, restarted where a person is missing)."""
    out = np.full(positions.shape, np.nan)
    for p in range(positions.shape[1]):
        filt = VelocityFilter(cutoff_hz)
        for f in range(len(positions)):
            if np.all(np.isfinite(positions[f, p])):
                out[f, p] = filt(positions[f, p], f / fps)
            else:
                filt = VelocityFilter(cutoff_hz)
    return out


def velocity_table(velocities: dict[str, np.ndarray], cache: dict, person: int) -> list[list[str]]:
    """Markdown rows: the reference's own mean absolute pelvis velocity, then per label the pelvis
    velocity's mean absolute error (m/s) in x, y and z against the all-views reference's central
    differences, and the frames scored."""
    fps = float(cache["fps"])
    truth = reference_velocity(cache["ref_all"][:, person, 0], fps)
    known = np.all(np.isfinite(truth), axis=-1)
    rows = [["the all-views reference's own pelvis speed (the signal)"]
            + [f"{x:.2f}" for x in np.abs(truth[known]).mean(axis=0)] + [str(int(known.sum()))]] if known.any() else []
    for label, v in velocities.items():
        pelvis = v[:, person, 0]
        ok = np.all(np.isfinite(pelvis), axis=-1) & known
        rows.append([label] + ([f"{e:.2f}" for e in np.abs(pelvis[ok] - truth[ok]).mean(axis=0)] if ok.any()
                               else ["n/a"] * 3) + [str(int(ok.sum()))])
    return rows


def per_joint_table(poses: dict[str, np.ndarray], cache: dict, person: int) -> list[list[str]]:
    """Markdown rows: joint, then each label's root-relative error (mm) against the other-views reference."""
    errors = {label: reference_scores(pred[:, person], cache["ref_others"][:, person], H36M17.bones)["per_joint"]
              for label, pred in poses.items() if label != FLOOR}
    return [[name] + [f"{1000 * e[j]:.0f}" for e in errors.values()] for j, name in enumerate(H36M17.joint_names)]


def reference_agreement(cache: dict, calib, person: int) -> str:
    """How well the other-views reference agrees with cam01, which it never saw: the median pixel
    distance of its projection to cam01's own confident 2D, its re-projection error in its own
    views, and the root error of a perfect depth (the reference pelvis's, on cam01's 2D pelvis
    ray): a floor for any monocular root placement that trusts cam01's 2D."""
    dist, floor = [], []
    cam = calib.intrinsics
    for f in np.flatnonzero(cache["found"][:, person]):
        ref = cache["ref_others"][f, person]
        ok = np.all(np.isfinite(ref), axis=-1) & (cache["confidence"][f, person] >= data.MIN_CONFIDENCE)
        if ok.any():
            proj = project(ref[ok], cam)
            dist += list(np.linalg.norm(proj - cache["keypoints"][f, person][ok], axis=-1))
        if np.all(np.isfinite(ref[0])):
            ray = normalize_with_intrinsics(cache["keypoints"][f, person][:1], cam)[0]
            floor.append(np.linalg.norm(np.append(ray, 1.0) * ref[0, 2] - ref[0]))
    if not dist:
        return "reference check: no frame with both"
    return (f"reference check: projected into cam01 the other-views reference lies a median "
            f"{np.median(dist):.0f} px from cam01's own 2D (image height {cam.height} px; "
            f"re-projection error in its own views {np.nanmedian(cache['ref_others_err'][:, person]):.1f} px); "
            f"root error of a perfect depth on cam01's 2D pelvis ray: {1000 * np.mean(floor):.0f} mm")


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def evaluate(demo: str, backend: str, rows: dict[str, dict]) -> str:
    """The demo's tables (markdown)."""
    cache = data.demo_cache(demo, backend)
    calib = data.cameras(demo)[data.EVAL_CAMERA]
    cam = calib.intrinsics
    poses = {"MediaPipe world landmarks": mediapipe_world(cache, cam)}
    fps = float(cache["fps"])
    cutoff = next(p.default for p in LIFTER_PARAMS if p.name == "velocity_cutoff_hz")
    velocities = {"MediaPipe world landmarks (the lifter's velocity filter)":
                  filtered_velocity(poses["MediaPipe world landmarks"], fps, cutoff)}
    tilt = data.camera_tilt(calib)  # for gravity-levelled lifters; the others ignore it
    rows = {label: tilt | params for label, params in rows.items()}
    with tempfile.TemporaryDirectory() as tmp:
        yaml_path = write_ros_calibration(calib, Path(tmp) / "cam01.yaml")
        people, skeletons = run_pipeline(data.CACHE / demo / "videos" / f"{data.EVAL_CAMERA}.mp4", yaml_path,
                                         float(cache["fps"]), backend, rows)
    width = int(cache["detect_width"]) or cam.width
    published = cam.scaled_to(width, round(cam.height * width / cam.width))
    for label in rows:
        both = pipeline_poses(people, skeletons[label], cache, demo, published)
        poses[label], velocities[label] = both[..., :3], both[..., 3:]
    poses[FLOOR] = cache["ref_all"]
    velocities["other-views reference (central differences: the reference's noise)"] = reference_velocity(
        cache["ref_others"], fps)
    header = ["row"] + [f"{m} ({name})" for _, name in REFERENCES
                        for m in ("P-MPJPE", "MPJPE", "root err", "limb std", "frames")]
    out = [f"## {demo} (backend {backend}, {len(people)} frames of {data.EVAL_CAMERA}, "
           f"frame offsets {cache['offsets'].tolist()})"]
    agreement = data.view_agreement(demo, backend, cache)
    for p in range(cache["ref_all"].shape[1]):
        out += [f"\n### person {p}: cam01 found it in {int(cache['found'][:, p].sum())} frames\n",
                reference_agreement(cache, calib, p) + "\n",
                "cameras' agreement on this person (median epipolar distance, px): " + ", ".join(
                    f"{a[3:]}-{b[3:]} {d:.0f}" for (a, b), d in agreement[p].items())
                + "\n",
                markdown(header, score_table(poses, cache, p)),
                f"\nPelvis velocity, mean absolute error (m/s) against the all-views reference's central "
                f"differences over +-{VELOCITY_HALF_WINDOW_S} s:\n",
                markdown(["row", "x", "y", "z", "frames"], velocity_table(velocities, cache, p)),
                "\nPer-joint root-relative error (mm) against the other-views reference:\n",
                markdown(["joint"] + [k for k in poses if k != FLOOR],
                         per_joint_table(poses, cache, p))]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demos", nargs="+", default=list(data.DEMOS), choices=data.DEMOS)
    parser.add_argument("--backend", default="mediapipe", help="keypoint_detector backend (default mediapipe)")
    add_row_arguments(parser)
    parser.add_argument("--output", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args()
    try:
        rows = rows_from_args(args.lifter_param, args.variant)
    except ValueError as exc:
        parser.error(str(exc))
    data.fetch()
    report = ["# Multi-view benchmark (bench/multiview.py)", "",
              "Errors in mm; MPJPE is root-relative; limb std: each bone's length std over the scored frames, "
              "averaged over bones; root error n/a: the row has no metric position.", ""]
    for demo in args.demos:
        text = evaluate(demo, args.backend, rows)
        print(text, flush=True)
        report.append(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("\n".join(report) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
