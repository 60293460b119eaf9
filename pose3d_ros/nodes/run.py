"""Run nodes as a process: init, spin until shutdown (or the node says it is finished), clean up.

rclpy's own signal handlers are off: SIGINT (Ctrl-C) and SIGTERM raise KeyboardInterrupt in
the spinning thread, so nodes are destroyed while their context is still valid (rclpy's
handler shuts the context down first, and a callback still running then fails with
"publisher's context is invalid") and the process exits 0. A node that cannot start (an
invalid parameter, a missing or corrupt file) logs why and the process exits 1.
"""
from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

START_ERRORS = (ValueError, OSError, RuntimeError)  # ParameterError, ModelLoadError, a missing file


def init(args: list[str] | None = None) -> None:
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell ignores it in background jobs
        signal.signal(sig, signal.default_int_handler)


@contextmanager
def starting(what: str) -> Iterator[None]:
    """Turn a start error into its log line and exit status 1 (no traceback)."""
    try:
        yield
    except START_ERRORS as exc:
        get_logger("pose3d_ros").fatal(f"cannot start {what}: {exc}")
        raise SystemExit(1) from None


def spin_node(factory: Callable[[], Node], args: list[str] | None = None) -> None:
    init(args)
    node = None
    try:
        with starting(getattr(factory, "__name__", "the node")):
            node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not getattr(node, "finished", False):
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
