"""Stand-in for tf2_ros.TransformBroadcaster where tf2_ros is not installed (PyPI wheels).

Publishes tf2_msgs/TFMessage on /tf with the QoS tf2_ros uses (reliable, volatile, depth 100),
so tf2 listeners on a full ROS 2 install receive the frames unchanged.
"""
from __future__ import annotations

from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile
from tf2_msgs.msg import TFMessage


class TfPublisher:
    def __init__(self, node: Node) -> None:
        self.pub = node.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))

    def sendTransform(self, transforms: TransformStamped | list[TransformStamped]) -> None:  # noqa: N802 (tf2_ros name)
        if isinstance(transforms, TransformStamped):
            transforms = [transforms]
        self.pub.publish(TFMessage(transforms=list(transforms)))
