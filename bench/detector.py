"""Benchmark the keypoint detector backends with 1, 2 and 4 people, and on the sample clip.

Scenes, made from the sample clip (.cache/sample/demo.mp4, 1768x994 at 30 fps):
- ``1``: a 640x480 window of the full-resolution frames around the man, who is alone in it,
  frames 0-55 played forwards and backwards (230 frames);
- ``2`` and ``4``: that scene twice side by side (1280x480) and four times in a 2x2 grid
  (1280x960), each copy 14 frames behind the one before it;
- ``1_small``: the same frames letterboxed whole to 640x480, the man 120 to 150 pixels tall;
- ``clip``: the whole clip letterboxed to 640x480: the man throughout, a woman walking through
  from about frame 40 to 200, both small (100 to 150 pixels tall).

Per backend and scene: one detect() call's latency (p50/p95 after 5 warm-up frames) and its
CPU time (all threads), the people found per frame, the share of frames with every person
found and the number of track ids given out (ideally the number of people); then the node
(KeypointDetectorNode on real rclpy, reliable input) fed by a publisher thread at --rate Hz:
the rate it sustains and the share of the images it never processed (it takes the newest).
``mediapipe_tasks_graph`` is mediapipe_tasks with ``detect_every: 0`` (the Tasks graph
alone), ``mediapipe_tasks_serial`` with ``follow_threads: 1`` (followed people one after the
other); ``replay`` replays the keypoints mediapipe_tasks (else the first backend) found in
the scene (the node's own cost); ``onnx`` needs --model-card.

    .venv/bin/python bench/detector.py [--backends mediapipe mediapipe_tasks mediapipe_tasks_serial
                                        mediapipe_tasks_graph replay]
                                       [--scenes 1 2 4 1_small clip] [--model-card CARD]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from pose3d_ros.detection import Detection, backend_options, create_detector
from pose3d_ros.detection.crops import letterbox_matrix, warp
from pose3d_ros.detection.replay_backend import save_replay
from pose3d_ros.nodes.camera_msgs import bgr_to_msg
from pose3d_ros.nodes.keypoint_detector import PARAMS, KeypointDetectorNode
from pose3d_ros.resources import sample_clip

WARMUP = 5
FRAMES = 230
WINDOW = (slice(0, 480), slice(320, 960))  # rows, columns of the full-resolution frame: the man alone
ALONE = 56  # frames 0-55: nobody else in the window
STAGGER = 14  # frames between copies
VARIANTS = {"mediapipe": {"backend": "mediapipe"}, "mediapipe_tasks": {"backend": "mediapipe_tasks"},
            "mediapipe_tasks_graph": {"backend": "mediapipe_tasks", "detect_every": 0},
            "mediapipe_tasks_serial": {"backend": "mediapipe_tasks", "follow_threads": 1},
            "replay": {"backend": "replay"}, "onnx": {"backend": "onnx"}}
PEOPLE = {"1": 1, "2": 2, "4": 4, "1_small": 1, "clip": None}
LETTERBOX = (640, 480)


def read_clip(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (frame := cap.read()[1]) is not None:
        frames.append(frame)
    cap.release()
    return frames


def scene(name: str, clip: list[np.ndarray]) -> list[np.ndarray]:
    """The scene's BGR frames (see the module docstring)."""
    def letterboxed(frames: list[np.ndarray]) -> list[np.ndarray]:
        return [warp(f, letterbox_matrix((f.shape[1], f.shape[0]), LETTERBOX), LETTERBOX) for f in frames]

    if name == "clip":
        return letterboxed(clip[:FRAMES])
    alone = letterboxed(clip[:ALONE]) if name == "1_small" else [f[WINDOW] for f in clip[:ALONE]]
    loop = alone + alone[::-1]
    copies = [[loop[(i + STAGGER * c) % len(loop)] for i in range(FRAMES)] for c in range(PEOPLE[name])]
    if len(copies) == 1:
        return copies[0]
    rows = [copies[:2], copies[2:]] if name == "4" else [copies]
    return [np.concatenate([np.concatenate([c[i] for c in row], axis=1) for row in rows], axis=0)
            for i in range(FRAMES)]


def measure_calls(params: dict, frames: list[np.ndarray]) -> tuple[np.ndarray, float, list[list[Detection]]]:
    """detect() latencies (ms, after the warm-up), CPU ms per call, and the detections."""
    detector = create_detector(params["backend"], **backend_options(params["backend"], params))
    latencies, detections = [], []
    cpu_start = 0.0
    for i, bgr in enumerate(frames):
        if i == WARMUP:
            cpu_start = time.process_time()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        detections.append(detector.detect(rgb))
        latencies.append(1000.0 * (time.perf_counter() - start))
    cpu_ms = 1000.0 * (time.process_time() - cpu_start) / (len(frames) - WARMUP)
    detector.close()
    return np.array(latencies[WARMUP:]), cpu_ms, detections


def run_node(params: dict, frames: list[np.ndarray], rate: float) -> dict:
    """Frames published at ``rate`` from a thread; the node spins in this one."""
    rclpy.init()
    node = KeypointDetectorNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    source = Node("bench_source")
    pub = source.create_publisher(Image, "image_raw", QoSProfile(depth=1))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    while not pub.get_subscription_count():
        executor.spin_once(timeout_sec=0.05)
    messages = [bgr_to_msg(f, Header(frame_id="camera_optical_frame")) for f in frames]
    sent = []

    def publish() -> None:
        start = time.monotonic()
        for i, msg in enumerate(messages):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            msg.header.stamp = source.get_clock().now().to_msg()
            pub.publish(msg)
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
    return {"node_hz": processed / duration, "dropped": 1.0 - processed / len(sent)}


def agreement(a: list[list[Detection]], b: list[list[Detection]]) -> tuple[float, int]:
    """Median pixel distance of H36M-17 joints between each person of ``a`` and the nearest
    person of ``b``, over the frames where both found someone."""
    dists = []
    for people, other in zip(a, b):
        for ref in people if other else []:
            best = min(other, key=lambda d: np.linalg.norm(d.keypoints - ref.keypoints, axis=1).mean())
            dists.append(np.linalg.norm(best.keypoints - ref.keypoints, axis=1))
    return (float(np.median(np.concatenate(dists))) if dists else float("nan")), len(dists)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=list(VARIANTS),
                        default=["mediapipe", "mediapipe_tasks", "mediapipe_tasks_serial", "mediapipe_tasks_graph",
                                 "replay"])
    parser.add_argument("--scenes", nargs="+", choices=list(PEOPLE), default=list(PEOPLE))
    parser.add_argument("--model-card", default="", help="onnx backend's model card")
    parser.add_argument("--onnx-threads", type=int, default=0)
    parser.add_argument("--rate", type=float, default=30.0, help="source rate for the node run (Hz)")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    clip = read_clip(sample_clip())
    print(f"{sample_clip().name}: {len(clip)} frames; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start", flush=True)
    defaults = {p.name: p.default for p in PARAMS}
    header = ("| people | backend | latency p50 (ms) | p95 (ms) | CPU (ms/frame) | people found per frame "
              "| frames with all found | track ids | node (Hz) | frames dropped |\n" + "|---" * 10 + "|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenes:
            frames = scene(name, clip)
            found: dict[str, list[list[Detection]]] = {}
            for variant in args.backends:
                params = dict(defaults, **VARIANTS[variant], image_reliability="reliable")
                if variant == "replay":
                    if not found:
                        raise SystemExit("replay replays the keypoints of the backend measured before it")
                    params["replay_file"] = str(Path(tmp) / f"scene_{name}.npz")
                    save_replay(params["replay_file"], found.get("mediapipe_tasks", next(iter(found.values()))))
                if variant == "onnx":
                    params.update(model_card=args.model_card, onnx_threads=args.onnx_threads)
                latencies, cpu_ms, found[variant] = measure_calls(params, frames)
                node = run_node({k: v for k, v in params.items() if v != defaults[k] or k == "backend"},
                                frames, args.rate)
                counts = np.array([len(d) for d in found[variant]])
                expected = PEOPLE[name]
                complete = f"{100 * np.mean(counts >= expected):.0f} %" if expected else "-"
                ids = len({d.track_id for people in found[variant] for d in people})
                rows.append(f"| {name} | {variant} | {np.percentile(latencies, 50):.1f} "
                            f"| {np.percentile(latencies, 95):.1f} | {cpu_ms:.1f} | {counts.mean():.2f} | {complete} "
                            f"| {ids} | {node['node_hz']:.1f} | {100 * node['dropped']:.0f} % |")
                print(rows[-1], f"(load {os.getloadavg()[0]:.1f})", flush=True)
            if "mediapipe" in found and "onnx" in found:
                median, n = agreement(found["mediapipe"], found["onnx"])
                print(f"scene {name}, mediapipe vs onnx: median H36M-17 joint distance {median:.1f} px over {n} people")
    print(f"\n{header}\n" + "\n".join(rows))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
