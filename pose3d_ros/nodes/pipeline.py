"""``pose3d-pipeline``: every node of the pipeline composed in one process.

The stand-in for ``ros2 launch pose3d_ros pipeline.launch.py`` where launch_ros is not
installed (ROS 2 from PyPI wheels). Same nodes, same config/pipeline.yaml, same
``--ros-args`` (e.g. ``--ros-args -p source:=clip.mp4 -p device:=cpu``).

Each node spins on a thread of its own, as it would in a process of its own: the video
source's timer keeps real time while the detector works (MediaPipe releases the GIL), and the
detector, once free, takes the newest image.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable

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
SPIN_S = 0.05  # longest wait of a node's executor for work, so that its thread notices a stop


def build_nodes(preview: bool = False) -> list[Node]:
    """The pipeline's nodes, source first; parameters come from the ROS context's arguments."""
    nodes: list[Node] = [VideoSourceNode(), KeypointDetectorNode(), LifterNode()]
    if preview:
        nodes.append(PreviewRecorderNode())
    return nodes


class NodeThreads:
    """Spins each node with an executor of its own on a thread of its own until stop(); a
    callback's exception stops them all and is raised again by check()."""

    def __init__(self, nodes: list[Node]) -> None:
        self._stop = threading.Event()
        self._error: Exception | None = None
        self._threads = [threading.Thread(target=self._spin, args=(node,), name=node.get_name(), daemon=True)
                         for node in nodes]
        for thread in self._threads:
            thread.start()

    def _spin(self, node: Node) -> None:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            while rclpy.ok() and not self._stop.is_set():
                executor.spin_once(timeout_sec=SPIN_S)
        except ExternalShutdownException:
            pass
        except Exception as exc:  # handed to the main thread by check()
            self._error = exc
            self._stop.set()
        finally:
            executor.shutdown()

    def check(self) -> None:
        """Raise the exception a callback raised, if any."""
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop spinning and wait for the callbacks in progress to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join()


def drain(lifter: LifterNode, step: Callable[[], None]) -> None:
    """Call ``step`` (spin, or wait while threads spin) until the lifter has been idle for
    DRAIN_S: what was in flight is handled."""
    seen, idle_since = -1, time.monotonic()
    while rclpy.ok():
        step()
        frames = lifter.diag.counts["frames"]
        if frames != seen:
            seen, idle_since = frames, time.monotonic()
        elif time.monotonic() - idle_since > DRAIN_S:
            return


def run_until_done(nodes: list[Node], source: VideoSourceNode, lifter: LifterNode) -> None:
    """Spin ``nodes`` on their threads until the source has ended and the lifter is drained."""
    threads = NodeThreads(nodes)

    def step() -> None:
        threads.check()
        time.sleep(SPIN_S)

    try:
        while rclpy.ok() and not source.finished:
            step()
        drain(lifter, step)
    finally:
        threads.stop()
    threads.check()


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
        run_until_done(nodes, nodes[0], nodes[2])
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
