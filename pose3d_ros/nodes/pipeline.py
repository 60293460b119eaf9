"""``pose3d-pipeline``: every node of the pipeline composed in one process.

The stand-in for ``ros2 launch pose3d_ros pipeline.launch.py`` where launch_ros is not
installed (ROS 2 from PyPI wheels). Same nodes, same config/pipeline.yaml, same
``--ros-args`` (e.g. ``--ros-args -p source:=clip.mp4 -p device:=cpu``).
"""
from __future__ import annotations

import argparse
import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from ..resources import share_dir
from .keypoint_detector import KeypointDetectorNode
from .lifter import LifterNode
from .preview_recorder import PreviewRecorderNode
from .run import init, starting
from .video_source import VideoSourceNode

DRAIN_S = 1.0  # after the source ends, stop once the lifter has been idle this long


def build_nodes(preview: bool = False) -> list[Node]:
    """The pipeline's nodes, source first; parameters come from the ROS context's arguments."""
    nodes: list[Node] = [VideoSourceNode(), KeypointDetectorNode(), LifterNode()]
    if preview:
        nodes.append(PreviewRecorderNode())
    return nodes


def drain(executor: SingleThreadedExecutor, lifter: LifterNode) -> None:
    """Spin until the lifter has been idle for DRAIN_S (what was in flight is handled)."""
    seen, idle_since = -1, time.monotonic()
    while rclpy.ok():
        executor.spin_once(timeout_sec=0.05)
        frames = lifter.diag.counts["frames"]
        if frames != seen:
            seen, idle_since = frames, time.monotonic()
        elif time.monotonic() - idle_since > DRAIN_S:
            return


def spin_until_done(executor: SingleThreadedExecutor, source: VideoSourceNode, lifter: LifterNode) -> None:
    """Spin until the source has ended, then drain the lifter."""
    while rclpy.ok() and not source.finished:
        executor.spin_once(timeout_sec=0.05)
    drain(executor, lifter)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv if argv is None else argv
    parser = argparse.ArgumentParser(prog="pose3d-pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params-file", default=str(share_dir() / "config" / "pipeline.yaml"),
                        help="ROS parameters file (default: config/pipeline.yaml)")
    parser.add_argument("--preview", action="store_true",
                        help="also run preview_recorder (video and PNG of the 2D overlay beside the 3D skeletons)")
    args = parser.parse_args(remove_ros_args(argv)[1:])
    init([argv[0], "--ros-args", "--params-file", args.params_file, "--"] + argv[1:])
    nodes: list[Node] = []
    try:
        with starting("the pipeline"):
            nodes = build_nodes(args.preview)
        executor = SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        spin_until_done(executor, nodes[0], nodes[2])
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
