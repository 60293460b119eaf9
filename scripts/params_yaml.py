"""Write config/pipeline.yaml from the nodes' parameter tables (the single source of defaults).

    .venv/bin/python scripts/params_yaml.py          # rewrite config/pipeline.yaml
    .venv/bin/python scripts/params_yaml.py --check  # exit 1 when the file differs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from pose3d_ros.nodes import keypoint_detector, lifter, preview_recorder, video_source

PATH = Path(__file__).resolve().parent.parent / "config" / "pipeline.yaml"
HEADER = """# Parameters of the pipeline's nodes (ROS 2 parameters file), written by scripts/params_yaml.py
# from the nodes' parameter tables: edit those, then run the script.
# Used by launch/pipeline.launch.py and by pose3d-pipeline; a node started without this file
# behaves the same (test/nodes/test_package_consistency.py checks it). The keys match the nodes
# in any namespace (/**/<node>), so the file serves one pipeline per camera under namespaces.
"""
KEY_PREFIX = "/**/"  # any namespace
NODES = {"video_source": video_source.PARAMS, "keypoint_detector": keypoint_detector.PARAMS,
         "lifter": lifter.PARAMS, "preview_recorder": preview_recorder.PARAMS}


def render() -> str:
    lines = [HEADER]
    for node, params in NODES.items():
        lines += [f"{KEY_PREFIX}{node}:", "  ros__parameters:"]
        for p in params:
            value = yaml.safe_dump({p.name: p.default}, default_flow_style=True, width=1000).strip()[1:-1]
            lines += [f"    # {p.description}", f"    {value}"]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare")
    args = parser.parse_args()
    text = render()
    if args.check:
        sys.exit(0 if PATH.read_text() == text else 1)
    PATH.write_text(text)


if __name__ == "__main__":
    main()
