"""Declared parameters: one table per node, each with a default and a description.

The defaults equal config/pipeline.yaml (a test checks it), so a node started without a
parameters file behaves like the launched pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str


def declare(node: Node, params: tuple[Param, ...]) -> dict[str, Any]:
    """Declare every parameter and return their current values by name."""
    for p in params:
        node.declare_parameter(p.name, p.default, ParameterDescriptor(description=p.description))
    return {p.name: node.get_parameter(p.name).value for p in params}
