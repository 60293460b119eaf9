"""Declared parameters: one table per node, the single source of names, defaults, limits and
whether a value may change while the node runs.

A :class:`Param` row carries a description, an inclusive ``range`` (declared as the ROS
FloatingPointRange or IntegerRange, so ``ros2 param describe`` shows it and rclpy refuses
values outside it, NaN included), ``choices`` for a string, and ``check``: a validator that
sees every value of the node (for limits between parameters) and returns the reason a value
is refused. A row that is not ``dynamic`` is read-only: rclpy refuses to set it at run time.
Dynamic ones are validated by the node's on-set-parameters callback and handed to the node's
``apply`` after they are set. Invalid values at start raise :class:`ParameterError`.

The defaults equal config/pipeline.yaml (a test checks it), so a node started without a
parameters file behaves like the launched pipeline.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

Check = Callable[[Any, Mapping[str, Any]], "str | None"]


class ParameterError(ValueError):
    """A parameter value the node refuses at start; the message names it and says why."""


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None  # inclusive; ints for an integer parameter
    choices: tuple[str, ...] = ()
    check: Check | None = None
    dynamic: bool = False  # may change at run time (else read-only)

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(description=self.description, read_only=not self.dynamic)
        if self.range is not None:
            if isinstance(self.default, float):
                d.floating_point_range = [FloatingPointRange(from_value=float(self.range[0]),
                                                             to_value=float(self.range[1]), step=0.0)]
            else:
                d.integer_range = [IntegerRange(from_value=int(self.range[0]), to_value=int(self.range[1]), step=0)]
        constraints = []
        if self.choices:
            constraints.append(f"one of: {', '.join(self.choices)}")
        if self.check is not None and self.check.__doc__:
            constraints.append(self.check.__doc__)
        if not self.dynamic:
            constraints.append("read-only: set at start")
        d.additional_constraints = "; ".join(constraints)
        return d

    def problem(self, value: Any, values: Mapping[str, Any]) -> str | None:
        """Why ``value`` is refused (given all the node's values), or None."""
        if self.range is not None and not (isinstance(value, (int, float)) and not math.isnan(value)
                                           and self.range[0] <= value <= self.range[1]):
            return f"{self.name} must be in [{self.range[0]}, {self.range[1]}], got {value!r}"
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
        if self.check is not None and (reason := self.check(value, values)):
            return f"{self.name} {reason}, got {value!r}"
        return None


def less_than(other: str) -> Check:
    def check(value: Any, values: Mapping[str, Any]) -> str | None:
        return None if value < values[other] else f"must be below {other} ({values[other]!r})"
    check.__doc__ = f"below {other}"
    return check


def greater_than(other: str) -> Check:
    def check(value: Any, values: Mapping[str, Any]) -> str | None:
        return None if value > values[other] else f"must be above {other} ({values[other]!r})"
    check.__doc__ = f"above {other}"
    return check


def not_empty(value: Any, values: Mapping[str, Any]) -> str | None:
    """not empty"""
    return None if str(value).strip() else "must not be empty"


def frame_name(value: Any, values: Mapping[str, Any]) -> str | None:
    """a TF frame name or prefix: no whitespace, no leading /"""
    return "must be a TF frame name (no whitespace, no leading /)" if (
        any(c.isspace() for c in value) or value.startswith("/")) else None


def all_of(*checks: Check) -> Check:
    def check(value: Any, values: Mapping[str, Any]) -> str | None:
        return next((reason for c in checks if (reason := c(value, values))), None)
    check.__doc__ = "; ".join(c.__doc__ for c in checks if c.__doc__)
    return check


def declare(node: Node, params: tuple[Param, ...],
            apply: Callable[[set[str]], None] | None = None) -> dict[str, Any]:
    """Declare every row, validate the values the node starts with and return them by name.

    The returned dict stays current: accepted run-time changes are written into it, then
    ``apply`` gets the names that changed. Raises ParameterError for an invalid value."""
    table = {p.name: p for p in params}
    for p in params:
        try:
            node.declare_parameter(p.name, p.default, p.descriptor())
        except InvalidParameterValueException as exc:
            raise ParameterError(f"{node.get_name()}: parameter {p.name}: {exc}") from None
        except InvalidParameterTypeException as exc:
            raise ParameterError(f"{node.get_name()}: parameter {p.name}: {exc}") from None
    values = {p.name: node.get_parameter(p.name).value for p in params}
    for p in params:
        if reason := p.problem(values[p.name], values):
            raise ParameterError(f"{node.get_name()}: {reason}")

    def validate(changes: list[Parameter]) -> SetParametersResult:
        candidate = dict(values, **{c.name: c.value for c in changes if c.name in table})
        for p in params:
            if reason := p.problem(candidate[p.name], candidate):
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def store(changes: list[Parameter]) -> None:
        changed = {c.name for c in changes if c.name in table}
        values.update({name: node.get_parameter(name).value for name in changed})
        if changed and apply is not None:
            apply(changed)

    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(store)
    return values

