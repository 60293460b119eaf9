"""Soak test of the lifter node: hours of a robot's traffic compressed into minutes, bad input included.

    .venv/bin/python bench/soak.py                # 10 minutes
    .venv/bin/python bench/soak.py --minutes 2

The lifter runs as its own process (``python -m pose3d_ros.nodes.lifter``, default model and
refiner, CPU, in the namespace /soak) as ``ros2 run`` starts it. This script publishes ``keypoints`` and
``camera_info`` at 30 Hz: five people at a time walking in front of a 640x480 camera, each
track living 3 to 20 s, a new id after 0 to 2 s, and about one message in 20 damaged by one
of the hostile cases below (chosen at random, seeded). It records what the lifter publishes
and its /diagnostics, and samples the lifter's resident set size every 10 s.

Reports: messages sent and damaged per case, the lifter's received/published counts and
every rejection counter, skeleton messages received here, and RSS after the first minute
(warm-up) and at the end, with the least-squares growth per minute after the warm-up.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import rclpy  # noqa: E402
from builtin_interfaces.msg import Time as TimeMsg  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, PointCloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from pose3d_ros.geometry import CameraIntrinsics, project  # noqa: E402
from pose3d_ros.lifting.inputs import PersonKeypoints  # noqa: E402
from pose3d_ros.nodes.camera_msgs import camera_info_msg  # noqa: E402
from pose3d_ros.nodes.clouds import from_cloud, keypoints_to_cloud, to_cloud  # noqa: E402

RATE_HZ = 30.0
PEOPLE = 5
DAMAGE_EVERY = 20  # on average one message in this many is damaged
FRAME = "camera_optical_frame"
NAMESPACE = "/soak"  # keeps the soak's topics apart from other ROS processes in the domain
CAM = CameraIntrinsics.default_for(640, 480)
POSE = np.array([  # a standing H36M-17 pose (optical frame), root-relative, metres
    [0.0, 0.0, 0.0], [-0.13, 0.0, 0.0], [-0.13, 0.44, -0.05], [-0.13, 0.86, 0.0],
    [0.13, 0.0, 0.0], [0.13, 0.44, -0.05], [0.13, 0.86, 0.0], [0.0, -0.23, 0.0],
    [0.0, -0.48, 0.0], [0.0, -0.55, -0.05], [0.0, -0.7, 0.0], [0.18, -0.45, 0.0],
    [0.2, -0.18, 0.0], [0.21, 0.05, -0.2], [-0.18, -0.45, 0.0], [-0.2, -0.18, 0.0],
    [-0.21, 0.05, -0.2],
])
KEYPOINT_CASES = ("nan_confidence", "confidence_above_1", "nan_keypoint", "huge_keypoint", "bad_person",
                  "negative_stamp", "duplicate", "truncated_cloud", "missing_field", "too_many_people")
CAMERA_CASES = ("nan_k", "tiny_fx", "inf_cx", "zero_k")


class Person:
    def __init__(self, track_id: int, rng: np.random.Generator, now: float) -> None:
        self.track_id, self.rng = track_id, rng
        self.position = np.array([rng.uniform(-1.5, 1.5), 0.0, rng.uniform(2.5, 8.0)])
        self.velocity = np.array([rng.uniform(-0.8, 0.8), 0.0, rng.uniform(-0.5, 0.5)])
        self.ends = now + rng.uniform(3.0, 20.0)

    def step(self, dt: float) -> PersonKeypoints:
        self.position += self.velocity * dt
        self.velocity[[0, 2]] *= np.where(np.abs(self.position[[0, 2]] - [0.0, 5.0]) > [2.0, 3.0], -1.0, 1.0)
        uv = project(POSE + self.position, CAM) + self.rng.normal(0.0, 2.0, (17, 2))
        conf = np.clip(self.rng.normal(0.85, 0.1, 17), 0.0, 1.0)
        return PersonKeypoints(self.track_id, uv, conf)


class Feeder(Node):
    def __init__(self, seed: int) -> None:
        super().__init__("soak_feeder", namespace=NAMESPACE)
        self.rng = np.random.default_rng(seed)
        self.kp_pub = self.create_publisher(PointCloud2, "keypoints", 10)
        self.info_pub = self.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self.skeletons = 0
        self.reports: list[dict[str, str]] = []  # the lifter's diagnostics values, oldest first
        self.create_subscription(PointCloud2, "skeletons_3d", self._on_skeletons, QoSProfile(depth=50))
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, QoSProfile(depth=10))
        self.slots: list[Person | None] = [None] * PEOPLE
        self.free_at = [0.0] * PEOPLE
        self.next_id, self.k = 0, 0
        self.sent, self.damaged = Counter(), Counter()
        self.previous: PointCloud2 | None = None

    def _on_skeletons(self, msg: PointCloud2) -> None:
        self.skeletons += 1

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == f"{NAMESPACE}/lifter":
                values = {kv.key: kv.value for kv in status.values}
                self.reports.append(dict(values, level=str(int.from_bytes(status.level, "little"))))

    def tick(self) -> None:
        now = self.k / RATE_HZ
        ns = 1_000_000_000 + self.k * 33_333_333  # sim time from 1 s, 30 Hz
        header = Header(stamp=TimeMsg(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=FRAME)
        self.k += 1
        people = []
        for i, person in enumerate(self.slots):
            if person is not None and now > person.ends:
                self.slots[i], self.free_at[i] = None, now + self.rng.uniform(0.0, 2.0)
            elif person is None and now >= self.free_at[i]:
                self.slots[i] = Person(self.next_id, self.rng, now)
                self.next_id += 1
            if self.slots[i] is not None:
                people.append(self.slots[i].step(1.0 / RATE_HZ))
        damage = self.rng.integers(DAMAGE_EVERY) == 0
        if damage and self.rng.random() < 0.3:
            self._camera_info(header, str(self.rng.choice(CAMERA_CASES)))
        else:
            self.info_pub.publish(camera_info_msg(CAM, header))
        case = str(self.rng.choice(KEYPOINT_CASES)) if damage and people else ""
        msg = self._keypoints(header, people, case)
        self.kp_pub.publish(msg)
        self.sent["keypoints"] += 1
        if case:
            self.damaged[case] += 1
        if case not in ("duplicate", "negative_stamp"):
            self.previous = msg

    def _camera_info(self, header: Header, case: str) -> None:
        msg = camera_info_msg(CAM, header)
        k = list(msg.k)
        if case == "nan_k":
            k[0] = float("nan")
        elif case == "tiny_fx":
            k[0] = 1e-30
        elif case == "inf_cx":
            k[2] = float("inf")
        else:
            k = [0.0] * 9
        msg.k = k
        self.info_pub.publish(msg)
        self.damaged[f"camera_info_{case}"] += 1

    def _keypoints(self, header: Header, people: list[PersonKeypoints], case: str) -> PointCloud2:
        if case == "duplicate" and self.previous is not None:
            return self.previous
        victim = people[int(self.rng.integers(len(people)))] if people else None
        joint = int(self.rng.integers(17))
        if case == "nan_confidence":
            victim.confidence[joint] = np.nan
        elif case == "confidence_above_1":
            victim.confidence[joint] = 7.0
        elif case == "nan_keypoint":
            victim.keypoints[joint] = np.nan
        elif case == "huge_keypoint":
            victim.keypoints[joint, 0] = 3e38
        elif case == "negative_stamp":
            header = Header(stamp=TimeMsg(sec=-5, nanosec=0), frame_id=FRAME)
        elif case == "too_many_people":
            people = people + [PersonKeypoints(10_000 + i, p.keypoints.copy(), p.confidence.copy())
                               for i, p in enumerate(people * 10)]
        msg = keypoints_to_cloud(header, people)
        if case == "bad_person":  # the victim loses its last joint; the others stay valid
            points = from_cloud(msg)
            msg = to_cloud(header, points[~((points["track_id"] == victim.track_id) & (points["joint"] == 16))])
        elif case == "truncated_cloud":
            msg.data = bytes(msg.data)[: len(msg.data) // 2]
        elif case == "missing_field":
            msg.fields = [f for f in msg.fields if f.name != "confidence"]
        return msg


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rclpy.init()
    feeder = Feeder(args.seed)
    lifter = subprocess.Popen([sys.executable, "-m", "pose3d_ros.nodes.lifter", "--ros-args", "-p", "device:=cpu",
                               "-r", f"__ns:={NAMESPACE}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + 120
        while feeder.kp_pub.get_subscription_count() < 1 or feeder.count_publishers("skeletons_3d") < 1:
            if time.monotonic() > deadline or lifter.poll() is not None:
                raise RuntimeError("the lifter process did not come up")
            rclpy.spin_once(feeder, timeout_sec=0.1)
        timer = feeder.create_timer(1.0 / RATE_HZ, feeder.tick)
        load_start = os.getloadavg()[0]
        start = time.monotonic()
        next_sample = start
        while time.monotonic() - start < 60.0 * args.minutes:
            rclpy.spin_once(feeder, timeout_sec=0.05)
            if time.monotonic() >= next_sample:
                samples.append(((time.monotonic() - start) / 60.0, rss_mib(lifter.pid)))
                next_sample += 10.0
            if lifter.poll() is not None:
                raise RuntimeError(f"the lifter died:\n{lifter.stderr.read()[-3000:]}")
        wall = time.monotonic() - start
        timer.cancel()
        reports = len(feeder.reports)
        settle = time.monotonic() + 30.0  # until two reports after the last message show the lifter idle
        while time.monotonic() < settle and not (
                len(feeder.reports) >= reports + 2
                and feeder.reports[-1]["frames"] == feeder.reports[-2]["frames"]
                and feeder.reports[-1]["published"] == feeder.reports[-2]["published"]):
            rclpy.spin_once(feeder, timeout_sec=0.1)
        load = os.getloadavg()
        samples.append(((time.monotonic() - start) / 60.0, rss_mib(lifter.pid)))
    finally:
        lifter.terminate()
        stderr = lifter.communicate(timeout=30)[1]
        feeder.destroy_node()
        rclpy.try_shutdown()
    report(args, wall, feeder, samples, lifter.returncode, stderr, (load_start, load[0]))


def report(args, wall: float, feeder: Feeder, samples: list[tuple[float, float]], returncode: int,
           stderr: str, load: tuple[float, float]) -> None:
    d = feeder.reports[-1]
    after = [(t, r) for t, r in samples if t >= 1.0] or samples
    t, r = np.array(after).T
    slope = np.polyfit(t, r, 1)[0] if len(t) > 1 else float("nan")
    print(f"soak: {wall / 60:.1f} min, seed {args.seed}, {PEOPLE} people at a time, {RATE_HZ:.0f} Hz, "
          f"{feeder.next_id} track ids; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end; "
          f"lifter exit status on SIGTERM {returncode}")
    print(f"sent {feeder.sent['keypoints']} keypoint messages, damaged {sum(feeder.damaged.values())}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(feeder.damaged.items())))
    lost = feeder.sent["keypoints"] - int(d["frames"])
    print(f"lifter: received {d['frames']} ({lost} lost: overwritten in its queue of 10 while it was busy, or "
          f"in transport), published {d['published']}, poses {d['poses']}; skeleton messages received here "
          f"{feeder.skeletons}; last diagnostics level {d['level']}")
    counters = ("bad_stamp", "bad_cloud", "bad_joints", "too_many_people", "bad_confidence", "bad_keypoints",
                "duplicate_stamps", "bad_camera_info", "no_camera_info", "unplaced", "nonfinite_poses",
                "tf_withheld", "dropped")
    print("counters: " + ", ".join(f"{c} {d.get(c)}" for c in counters))
    print("violations: " + ", ".join(f"{k[10:]} {v}" for k, v in d.items() if k.startswith("violation_")))
    print(f"RSS: {samples[0][1]:.1f} MiB at the start, {after[0][1]:.1f} MiB after {after[0][0]:.1f} min, "
          f"{samples[-1][1]:.1f} MiB at the end; growth after warm-up {slope:+.3f} MiB/min")
    tracebacks = stderr.count("Traceback")
    print(f"tracebacks in the lifter's log: {tracebacks}")
    if tracebacks:
        print(stderr[stderr.index("Traceback"):][:3000])


if __name__ == "__main__":
    main()
