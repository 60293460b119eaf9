"""Lifter benchmarks: per-frame latency, memory over a long run, end-to-end pipeline latency.

    .venv/bin/python bench/lifter.py                 # all three, CPU (and CUDA when torch sees it)
    .venv/bin/python bench/lifter.py --skip-pipeline
    .venv/bin/python bench/lifter.py --pipeline-only

1. Latency per frame of LifterNode's keypoints callback (decode the cloud, lift, check,
   build and publish cloud, markers and TF) for 1 and 10 tracks, p50/p95 over 1000 frames,
   on each available device.
2. Memory: resident set size over 10,000 frames with people coming and going (3 at a time,
   a new track id every 50 frames).
3. The pipeline on the sample clip at 30 Hz (video_source, keypoint_detector with the default
   backend or ``--backend``, lifter), composed in one process (a thread per node, as
   pose3d-pipeline runs it) and as one process per node (as ``ros2 launch`` runs it): image
   stamp to keypoints and to /tf arrival latency, and the rates achieved.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import rclpy  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.time import Time  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from pose3d_ros.detection import BACKENDS, DEFAULT_BACKEND  # noqa: E402
from pose3d_ros.geometry import CameraIntrinsics, project  # noqa: E402
from pose3d_ros.lifting.inputs import PersonKeypoints  # noqa: E402
from pose3d_ros.nodes.camera_msgs import camera_info_msg  # noqa: E402
from pose3d_ros.nodes.clouds import keypoints_to_cloud  # noqa: E402
from pose3d_ros.nodes.lifter import LifterNode  # noqa: E402

CAM = CameraIntrinsics.default_for(640, 480)
# A standing H36M-17 pose (optical frame), root-relative, metres.
POSE = np.array([
    [0.0, 0.0, 0.0], [-0.13, 0.0, 0.0], [-0.13, 0.44, -0.05], [-0.13, 0.86, 0.0],
    [0.13, 0.0, 0.0], [0.13, 0.44, -0.05], [0.13, 0.86, 0.0], [0.0, -0.23, 0.0],
    [0.0, -0.48, 0.0], [0.0, -0.55, -0.05], [0.0, -0.7, 0.0], [0.18, -0.45, 0.0],
    [0.2, -0.18, 0.0], [0.21, 0.05, -0.2], [-0.18, -0.45, 0.0], [-0.2, -0.18, 0.0],
    [-0.21, 0.05, -0.2],
])


def keypoints_msg(k: int, track_ids: list[int], rng: np.random.Generator):
    people = []
    for i, tid in enumerate(track_ids):
        t = np.array([0.6 * (i % 5) - 1.2, 0.0, 3.0 + i // 5])
        people.append(PersonKeypoints(tid, project(POSE + t, CAM) + rng.normal(0, 2.0, (17, 2)), np.full(17, 0.9)))
    return keypoints_to_cloud(Header(stamp=Time(nanoseconds=k * 33_333_333).to_msg(), frame_id="cam"), people)


def lifter_node(device: str) -> LifterNode:
    node = LifterNode(parameter_overrides=[Parameter("device", value=device)])
    node._on_camera_info(camera_info_msg(CAM, Header(frame_id="cam")))
    return node


def latency(device: str, tracks: int, frames: int = 1000, warmup: int = 100) -> dict[str, tuple[float, float]]:
    """p50/p95 ms of the whole callback and of its core part (OnlinePoseEstimator.update)."""
    node = lifter_node(device)
    rng = np.random.default_rng(0)
    update = node.estimator.update
    times = {"callback": [], "lift + checks": []}

    def timed_update(*args):
        start = time.perf_counter()
        out = update(*args)
        times["lift + checks"].append(time.perf_counter() - start)
        return out

    node.estimator.update = timed_update
    for k in range(warmup + frames):
        msg = keypoints_msg(k, list(range(tracks)), rng)
        start = time.perf_counter()
        node._on_keypoints(msg)
        times["callback"].append(time.perf_counter() - start)
    node.destroy_node()
    return {name: (float(np.percentile(1000 * np.array(t[warmup:]), 50)),
                   float(np.percentile(1000 * np.array(t[warmup:]), 95))) for name, t in times.items()}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory(frames: int = 10_000) -> list[tuple[int, float, int]]:
    node = lifter_node("cpu")
    rng = np.random.default_rng(0)
    samples = []
    for k in range(frames):
        first = k // 50
        node._on_keypoints(keypoints_msg(k, [first, first + 1, first + 2], rng))
        if (k + 1) % 2000 == 0:
            samples.append((k + 1, rss_mb(), len(node.estimator.tracks)))
    node.destroy_node()
    return samples


def _probe():
    """A node recording keypoint and skeleton clouds and the image-stamp-to-/tf latency (ms) of
    each person's body frame: (node, latencies, keypoint clouds, skeleton clouds)."""
    from rclpy.node import Node
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import PointCloud2
    from tf2_msgs.msg import TFMessage

    probe = Node("bench_probe")
    tf_latency, keypoints, skeletons = [], [], []
    clock = probe.get_clock()

    def on_tf(msg):
        now = clock.now().nanoseconds
        stamps = {t.header.stamp.sec * 10**9 + t.header.stamp.nanosec for t in msg.transforms
                  if "/" not in t.child_frame_id}
        tf_latency.extend((now - s) / 1e6 for s in stamps)

    def on_keypoints(msg):
        keypoints.append((clock.now().nanoseconds - (msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)) / 1e6)

    qos = QoSProfile(depth=100)
    probe.create_subscription(TFMessage, "/tf", on_tf, qos)
    probe.create_subscription(PointCloud2, "keypoints", on_keypoints, qos)
    probe.create_subscription(PointCloud2, "skeletons_3d", lambda m: skeletons.append(m), qos)
    return probe, tf_latency, keypoints, skeletons


def _latencies(keypoints: list[float], skeletons: list, tf_latency: list[float]) -> dict:
    """Counts of what the probe received, and the image-stamp-to-arrival latencies (ms) of
    the keypoint clouds and of /tf."""
    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    return {"keypoints": len(keypoints), "skeletons": len(skeletons), "tf_messages": len(tf_latency),
            "keypoints_latency_p50_ms": pct(keypoints, 50), "keypoints_latency_p95_ms": pct(keypoints, 95),
            "tf_latency_p50_ms": pct(tf_latency, 50), "tf_latency_p95_ms": pct(tf_latency, 95)}


def pipeline(backend: str, frames: int = 300) -> dict:
    """The pipeline composed in one process, as pose3d-pipeline runs it (a thread per node)."""
    from pose3d_ros.nodes.keypoint_detector import KeypointDetectorNode
    from pose3d_ros.nodes.pipeline import NodeThreads, drain
    from pose3d_ros.nodes.video_source import VideoSourceNode

    probe, tf_latency, keypoints, skeletons = _probe()
    source = VideoSourceNode(parameter_overrides=[Parameter("max_frames", value=frames),
                                                  Parameter("rate_hz", value=30.0)])
    lifter = LifterNode()
    nodes = [source, KeypointDetectorNode(parameter_overrides=[Parameter("backend", value=backend)]), lifter, probe]
    threads = NodeThreads(nodes)
    try:
        start = time.monotonic()
        while not source.finished:
            threads.check()
            time.sleep(0.01)
        seconds = time.monotonic() - start
        drain(lifter, lambda: time.sleep(0.05))
    finally:
        threads.stop()
    result = {"images": source.published, "seconds": seconds, **_latencies(keypoints, skeletons, tf_latency),
              "lifter_skipped": lifter.diag.counts["skipped"]}
    for node in nodes:
        node.destroy_node()
    return result


def _wait(condition, seconds: float, what: str, node) -> None:
    """Spin ``node`` until ``condition()`` holds; RuntimeError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        rclpy.spin_once(node, timeout_sec=0.05)


def pipeline_processes(backend: str, reliable: bool, frames: int = 300) -> dict:
    """The pipeline as ``ros2 launch`` runs it: one process per node, images and keypoints over DDS;
    ``reliable``: the detector subscribes to images with reliable QoS (the launch file's default)."""
    import subprocess

    params = ["--ros-args", "--params-file", str(ROOT / "config" / "pipeline.yaml")]

    def start(node: str, *overrides: str, log: bool = False) -> subprocess.Popen:
        extra = [a for o in overrides for a in ("-p", o)]
        return subprocess.Popen([sys.executable, "-m", f"pose3d_ros.nodes.{node}", *params, *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if log else subprocess.DEVNULL,
                                text=True)

    probe, tf_latency, keypoints, skeletons = _probe()
    reliability = "reliable" if reliable else "best_effort"
    workers = [start("lifter"), start("keypoint_detector", f"image_reliability:={reliability}", f"backend:={backend}")]
    try:
        # Ready once the lifter listens to keypoints (besides the probe) and MediaPipe to images.
        _wait(lambda: probe.count_subscribers("keypoints") >= 2 and probe.count_subscribers("image_raw") >= 1
              and probe.count_publishers("skeletons_3d") >= 1, 120, "lifter and detector processes", probe)
        source = start("video_source", f"max_frames:={frames}", "rate_hz:=30.0", "wait_for_subscribers:=true",
                       log=True)
        workers.append(source)
        _wait(lambda: len(keypoints) > 0, 60, "the first keypoints", probe)
        start_time = time.monotonic()
        while source.poll() is None:
            rclpy.spin_once(probe, timeout_sec=0.05)
        seconds = time.monotonic() - start_time
        idle_since, seen = time.monotonic(), len(skeletons)
        while time.monotonic() - idle_since < 1.0:  # drain what is in flight
            rclpy.spin_once(probe, timeout_sec=0.05)
            if len(skeletons) != seen:
                idle_since, seen = time.monotonic(), len(skeletons)
        published = re.search(r"source finished after (\d+) frames", source.stderr.read())
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        probe.destroy_node()
    return {"images": int(published.group(1)) if published else -1, "seconds": seconds,
            **_latencies(keypoints, skeletons, tf_latency)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--pipeline-only", action="store_true", help="only the pipeline runs")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, choices=list(BACKENDS),
                        help="the pipeline's detector backend")
    args = parser.parse_args(argv)
    rclpy.init()
    try:
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}; torch {torch.__version__}")
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in [] if args.pipeline_only else devices:
            for tracks in (1, 10):
                for part, (p50, p95) in latency(device, tracks).items():
                    print(f"{device}, {tracks:2d} tracks, {part}: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
        for frames, rss, tracks in [] if args.pipeline_only else memory():
            print(f"memory after {frames:5d} frames: RSS {rss:.1f} MiB, {tracks} tracks held")
        if not args.skip_pipeline:
            runs = (("one process", lambda: pipeline(args.backend)),
                    ("one process per node, reliable images", lambda: pipeline_processes(args.backend, True)),
                    ("one process per node, best-effort images", lambda: pipeline_processes(args.backend, False)))
            for name, run in runs:
                r = run()
                skipped = f", lifter skipped {r['lifter_skipped']}" if "lifter_skipped" in r else ""
                print(f"pipeline at 30 Hz, {args.backend}, {name}: {r['images']} images in {r['seconds']:.1f} s, "
                      f"{r['keypoints']} keypoint clouds, {r['skeletons']} skeleton clouds, {r['tf_messages']} "
                      f"TF messages; image stamp to keypoints p50 {r['keypoints_latency_p50_ms']:.1f} ms, "
                      f"p95 {r['keypoints_latency_p95_ms']:.1f} ms, to /tf p50 {r['tf_latency_p50_ms']:.1f} ms, "
                      f"p95 {r['tf_latency_p95_ms']:.1f} ms{skipped}")
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
