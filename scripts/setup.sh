#!/usr/bin/env bash
# Create .venv with everything pose3d_ros needs on a machine without a ROS 2 distro:
# torch (CPU), ROS 2 Jazzy wheels, mediapipe, this package and training/ (editable), tf2_msgs built
# from interfaces/, the MediaPipe Tasks pose model bundle (from the mediapipe wheel's models, into
# ~/.cache/pose3d_ros) and the sample clip. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
if ! sha256sum --status -c "$stamp" 2>/dev/null; then
  echo "installing requirements into $VENV (about 2 minutes on a fresh machine)"
  # grep hides the 'Location ... is ignored' notes of this machine's local pip indexes.
  "$VENV/bin/python" -m pip install --quiet -r requirements.txt 2>&1 | { grep -v "is ignored" || true; }
  for pkg in . training; do  # the ROS package and the offline training package, editable
    "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$pkg" 2>&1 | { grep -v "is ignored" || true; }
  done
  sha256sum requirements.txt setup.py training/pyproject.toml > "$stamp"
fi
bash scripts/build_tf2_msgs.sh "$VENV" > /dev/null
bundle="$("$VENV/bin/python" -m pose3d_ros.detection.mediapipe_bundle)"  # the mediapipe_tasks detector's models
echo "MediaPipe Tasks pose bundle: $bundle"
"$VENV/bin/python" scripts/fetch_sample_clip.py
