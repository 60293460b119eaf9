"""Periodic diagnostic_msgs/DiagnosticArray on /diagnostics: counters, rates and latency."""
from __future__ import annotations

import time
from collections import Counter, deque

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node


class NodeDiagnostics:
    """Counts named events, keeps recent latencies, publishes a status every ``period_s``.

    The level is WARN while ``warn_counters`` grew since the last report, else OK."""

    def __init__(self, node: Node, period_s: float = 1.0, warn_counters: tuple[str, ...] = ()) -> None:
        self.node = node
        self.counts: Counter = Counter()
        self._reported: Counter = Counter()
        self.latencies_ms: deque = deque(maxlen=300)
        self.warn_counters = warn_counters
        self._last = time.monotonic()
        self.pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        node.create_timer(period_s, self.publish)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def latency(self, ms: float) -> None:
        self.latencies_ms.append(ms)

    def publish(self) -> None:
        now = time.monotonic()
        dt = max(now - self._last, 1e-9)
        values = {name: str(n) for name, n in sorted(self.counts.items())}
        values.update({f"{name}_rate_hz": f"{(n - self._reported[name]) / dt:.2f}"
                       for name, n in sorted(self.counts.items())})
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            values["latency_p50_ms"] = f"{ordered[len(ordered) // 2]:.2f}"
            values["latency_p95_ms"] = f"{ordered[int(0.95 * (len(ordered) - 1))]:.2f}"
        grew = [c for c in self.warn_counters if self.counts[c] > self._reported[c]]
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if grew else DiagnosticStatus.OK,
            name=f"pose3d_ros: {self.node.get_name()}", hardware_id=self.node.get_fully_qualified_name(),
            message=f"recent: {', '.join(grew)}" if grew else "ok",
            values=[KeyValue(key=k, value=v) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)
        self._reported = Counter(self.counts)
        self._last = now
