#!/usr/bin/env bash
# Set everything up (first run: a few minutes) and run the pipeline on the sample clip:
# video_source -> keypoint_detector (mediapipe_tasks) -> lifter, with a preview video and PNG of
# the 2D overlay beside the 3D skeletons in output/. The clip is played at 15 Hz, half its
# rate, so that a 2-core machine lifts every frame; -p rate_hz:=0.0 -p fps:=30.0 plays it in
# real time. Extra arguments go to pose3d-pipeline, e.g. --ros-args -p source:=/path/to/video.mp4
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
.venv/bin/pose3d-pipeline --preview --ros-args -p rate_hz:=15.0 -p fps:=15.0 -- "$@" 2> >(grep -v -E "^(W0000|I0000|INFO: Created TensorFlow|WARNING: All log messages)" >&2)
echo "preview written: output/preview.mp4 and output/preview.png"
