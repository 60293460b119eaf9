"""Benchmark the keypoint detector backends on the sample clip at 640x480.

Per backend: latency of one detect() call (p50/p95, after a warm-up), then the node
(KeypointDetectorNode on real rclpy) fed by a paced source at --rate Hz: the rate it sustains
and the share of frames it drops (only the newest image is processed). mediapipe's output is
recorded as the replay backend's file; with --model-card also the onnx backend and the
median pixel distance between its H36M-17 joints and mediapipe's.

    .venv/bin/python bench/detector.py [--backends mediapipe replay onnx] [--model-card CARD]
"""
from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from pose3d_ros.detection import Detection, create_detector
from pose3d_ros.detection.crops import letterbox_matrix, warp
from pose3d_ros.detection.replay_backend import save_replay
from pose3d_ros.nodes.camera_msgs import bgr_to_msg
from pose3d_ros.nodes.keypoint_detector import PARAMS, KeypointDetectorNode, detector_options
from pose3d_ros.resources import sample_clip

SIZE = (640, 480)
WARMUP = 5
REPLAY_FILE = Path(".cache/bench/mediapipe_keypoints.npz")


def load_frames(path: Path, limit: int) -> list[np.ndarray]:
    """The clip's BGR frames letterboxed to 640x480 (the 16:9 picture with bars above and below)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(warp(frame, letterbox_matrix((frame.shape[1], frame.shape[0]), SIZE), SIZE))
    cap.release()
    return frames


def measure_latency(params: dict, frames: list[np.ndarray]) -> tuple[np.ndarray, list[list[Detection]]]:
    detector = create_detector(params["backend"], **detector_options(params))
    latencies, detections = [], []
    for bgr in frames:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        detections.append(detector.detect(rgb))
        latencies.append(1000.0 * (time.perf_counter() - start))
    detector.close()
    return np.array(latencies[WARMUP:]), detections


def run_node(params: dict, frames: list[np.ndarray], rate: float) -> dict:
    """Frames published at ``rate`` from a thread; the node spins in this one."""
    rclpy.init()
    node = KeypointDetectorNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    source = Node("bench_source")
    pub = source.create_publisher(Image, "image_raw", qos_profile_sensor_data)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    while not pub.get_subscription_count():
        executor.spin_once(timeout_sec=0.05)
    sent = []

    def publish() -> None:
        start = time.monotonic()
        for i, frame in enumerate(frames):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            header = Header(frame_id="camera_optical_frame", stamp=source.get_clock().now().to_msg())
            pub.publish(bgr_to_msg(frame, header))
            sent.append(time.monotonic())

    thread = threading.Thread(target=publish)
    thread.start()
    while thread.is_alive():
        executor.spin_once(timeout_sec=0.05)
    last, idle_since = -1, time.monotonic()
    while time.monotonic() - idle_since < 0.5:  # what is in flight is handled
        executor.spin_once(timeout_sec=0.05)
        if node.diag.counts["images"] != last:
            last, idle_since = node.diag.counts["images"], time.monotonic()
    processed = node.diag.counts["images"]
    executor.shutdown()
    node.destroy_node()
    source.destroy_node()
    rclpy.try_shutdown()
    duration = sent[-1] - sent[0] + 1.0 / rate
    return {"source_hz": len(sent) / duration, "node_hz": processed / duration,
            "dropped": 1.0 - processed / len(sent)}


def agreement(a: list[list[Detection]], b: list[list[Detection]]) -> tuple[float, int]:
    """Median pixel distance of H36M-17 joints between mediapipe's person and the nearest
    person of the other backend, over the frames where both found someone."""
    dists = []
    for mp_people, other in zip(a, b):
        if mp_people and other:
            ref = mp_people[0].keypoints
            best = min(other, key=lambda d: np.linalg.norm(d.keypoints - ref, axis=1).mean())
            dists.append(np.linalg.norm(best.keypoints - ref, axis=1))
    return (float(np.median(np.concatenate(dists))) if dists else float("nan")), len(dists)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["mediapipe", "replay"],
                        choices=["mediapipe", "replay", "onnx"])
    parser.add_argument("--model-card", default="", help="onnx backend's model card")
    parser.add_argument("--onnx-threads", type=int, default=0)
    parser.add_argument("--frames", type=int, default=10_000, help="at most this many frames of the clip")
    parser.add_argument("--rate", type=float, default=30.0, help="source rate for the node run (Hz)")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    frames = load_frames(sample_clip(), args.frames)
    print(f"{len(frames)} frames of {sample_clip().name} at {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    defaults = {p.name: p.default for p in PARAMS}
    extra = {"mediapipe": {}, "replay": {"replay_file": str(REPLAY_FILE)},
             "onnx": {"model_card": args.model_card, "onnx_threads": args.onnx_threads}}
    found: dict[str, list[list[Detection]]] = {}
    rows = []
    for backend in args.backends:
        if backend == "replay" and not REPLAY_FILE.is_file():
            raise SystemExit(f"replay needs {REPLAY_FILE}: run the mediapipe backend first")
        params = dict(defaults, backend=backend, **extra[backend])
        latencies, found[backend] = measure_latency(params, frames)
        if backend == "mediapipe":
            REPLAY_FILE.parent.mkdir(parents=True, exist_ok=True)
            save_replay(REPLAY_FILE, found[backend])
        node = run_node({k: v for k, v in params.items() if v != defaults[k] or k == "backend"}, frames, args.rate)
        people = sum(bool(d) for d in found[backend]) / len(frames)
        rows.append(f"| {backend} | {np.percentile(latencies, 50):.1f} | {np.percentile(latencies, 95):.1f} "
                    f"| {node['source_hz']:.1f} | {node['node_hz']:.1f} | {100 * node['dropped']:.0f} % "
                    f"| {100 * people:.0f} % |")
        print(rows[-1], flush=True)
    print("\n| backend | latency p50 (ms) | p95 (ms) | source (Hz) | node (Hz) | frames dropped "
          "| frames with a person |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if "mediapipe" in found and "onnx" in found:
        median, n = agreement(found["mediapipe"], found["onnx"])
        print(f"\nmediapipe vs onnx: median H36M-17 joint distance {median:.1f} px over {n} frames")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
