"""A lifter that falls behind lifts the newest keypoints and counts the ones it skipped."""
from __future__ import annotations

import time

import numpy as np
from builtin_interfaces.msg import Time as TimeMsg
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from pose3d_ros.nodes.clouds import KEYPOINT_DTYPE, to_cloud
from pose3d_ros.nodes.lifter import LifterNode

DEADLINE_S = 30.0


def _cloud(sec: int) -> PointCloud2:
    points = np.zeros(17, dtype=KEYPOINT_DTYPE)
    points["x"], points["y"] = np.linspace(300, 340, 17), np.linspace(150, 330, 17)
    points["confidence"], points["joint"] = 0.9, np.arange(17)
    return to_cloud(Header(stamp=TimeMsg(sec=sec), frame_id="cam"), points)


def test_only_the_newest_keypoints_are_lifted_and_the_rest_counted(ros):
    lifter = LifterNode()
    io = Node("newest_keypoints_io")
    pub = io.create_publisher(PointCloud2, "keypoints", QoSProfile(depth=10))
    lifted: list[PointCloud2] = []
    io.create_subscription(PointCloud2, "skeletons_3d", lifted.append, QoSProfile(depth=10))
    executor = SingleThreadedExecutor()
    for node in (lifter, io):
        executor.add_node(node)

    def spin_until(condition, what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            executor.spin_once(timeout_sec=0.05)

    try:
        spin_until(lambda: pub.get_subscription_count() and lifter.skeleton_pub.get_subscription_count(),
                   "discovery")
        pub.publish(_cloud(1))
        spin_until(lambda: lifted, "the first skeletons")
        for sec in range(2, 7):  # five clouds while the lifter is busy (not spun)
            pub.publish(_cloud(sec))
        assert pub.wait_for_all_acked(Duration(seconds=DEADLINE_S)), "the lifter's reader did not take them"
        spin_until(lambda: len(lifted) == 2, "the newest skeletons")
    finally:
        executor.shutdown()
        lifter.destroy_node()
        io.destroy_node()
    assert [m.header.stamp.sec for m in lifted] == [1, 6]
    assert lifter.diag.counts["frames"] == 2 and lifter.diag.counts["skipped"] == 4
