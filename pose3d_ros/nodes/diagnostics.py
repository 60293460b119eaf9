"""Periodic diagnostic_msgs/DiagnosticArray on /diagnostics: inputs, counters, rates, latency.

Per input: messages received, rate over the last period and age of the last one. Every
counter and rejection cause is reported from the start (zero until it happens). Level:
STALE while a required input is older than ``stale_after_s``, WARN while one never came or
a rejection cause grew since the last report (or a node's own check says so), else OK.
Each rejection cause logs a warning at most every WARN_PERIOD_S, however many call sites.
"""
from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

WARN_PERIOD_S = 5.0
OK, WARN, STALE = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.STALE


class NodeDiagnostics:
    """inputs: name -> required (a missing or stale required input sets the level);
    counters: plain event counts; causes: rejection cause -> what happens to the input.
    gauges: current values (e.g. active tracks); checks: extra (level, message) pairs."""

    def __init__(self, node: Node, inputs: Mapping[str, bool] | None = None, counters: tuple[str, ...] = (),
                 causes: Mapping[str, str] | None = None, stale_after_s: float = 2.0, period_s: float = 1.0,
                 gauges: Callable[[], Mapping[str, object]] | None = None,
                 checks: Callable[[], list[tuple[int, str]]] | None = None) -> None:
        self.node = node
        self.inputs = dict(inputs or {})
        self.causes = dict(causes or {})
        self.stale_after_s = stale_after_s
        self.gauges, self.checks = gauges, checks
        self.counts: Counter = Counter(dict.fromkeys([*self.inputs, *counters, *self.causes], 0))
        self._reported: Counter = Counter(self.counts)
        self._last_input: dict[str, float] = {}
        self._unwarned: Counter = Counter()
        self._warned_at: dict[str, float] = {}
        self.latencies_ms: deque = deque(maxlen=300)
        self._last = time.monotonic()
        self.pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        node.create_timer(period_s, self.publish)

    def received(self, name: str) -> None:
        """An input message arrived."""
        self.counts[name] += 1
        self._last_input[name] = time.monotonic()

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def reject(self, cause: str, detail: str, n: int = 1) -> None:
        """Count ``n`` occurrences of a rejection cause; warn (throttled per cause)."""
        self.counts[cause] += n
        self._warn(cause, detail, n)

    def sync(self, counts: Mapping[str, int]) -> None:
        """Take over counters kept elsewhere (the core's); causes among them warn when they grow."""
        for name, n in counts.items():
            grew = n - self.counts[name]
            self.counts[name] = n
            if grew > 0 and name in self.causes:
                self._warn(name, "", grew)

    def latency(self, ms: float) -> None:
        self.latencies_ms.append(ms)

    def _warn(self, cause: str, detail: str, n: int) -> None:
        self._unwarned[cause] += n
        now = time.monotonic()
        if now - self._warned_at.get(cause, -WARN_PERIOD_S) < WARN_PERIOD_S:
            return
        what = self.causes.get(cause, "")
        times = self._unwarned.pop(cause)
        self.node.get_logger().warn(f"{cause} x{times}" + (f" ({what})" if what else "")
                                    + (f": {detail}" if detail else ""))
        self._warned_at[cause] = now

    def status(self) -> DiagnosticStatus:
        """The current status; the rates cover the time since the previous call."""
        now = time.monotonic()
        dt = max(now - self._last, 1e-9)
        values: dict[str, str] = {}
        problems: list[tuple[int, str]] = []
        for name, required in self.inputs.items():
            last = self._last_input.get(name)
            age = None if last is None else now - last
            values[name] = str(self.counts[name])
            values[f"{name}_rate_hz"] = f"{(self.counts[name] - self._reported[name]) / dt:.2f}"
            values[f"{name}_age_s"] = "never" if age is None else f"{age:.2f}"
            if required and age is None:
                problems.append((WARN, f"no {name} received"))
            elif required and age > self.stale_after_s:
                problems.append((STALE, f"{name} stale ({age:.1f} s)"))
        values.update({name: str(n) for name, n in sorted(self.counts.items()) if name not in self.inputs})
        if self.gauges is not None:
            values.update({k: str(v) for k, v in self.gauges().items()})
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            values["latency_p50_ms"] = f"{ordered[len(ordered) // 2]:.2f}"
            values["latency_p95_ms"] = f"{ordered[int(0.95 * (len(ordered) - 1))]:.2f}"
        grew = [c for c in self.causes if self.counts[c] > self._reported[c]]
        if grew:
            problems.append((WARN, f"recent: {', '.join(grew)}"))
        if self.checks is not None:
            problems += self.checks()
        self._reported = Counter(self.counts)
        self._last = now
        return DiagnosticStatus(
            level=max((level for level, _ in problems), default=OK),
            name=f"pose3d_ros: {self.node.get_name()}", hardware_id=self.node.get_fully_qualified_name(),
            message="; ".join(text for _, text in problems) or "ok",
            values=[KeyValue(key=k, value=v) for k, v in values.items()])

    def publish(self) -> None:
        msg = DiagnosticArray(status=[self.status()])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)
