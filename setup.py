"""ament_python package: installs the library, node executables and share/ data."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "pose3d_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*.json") + glob("models/*.safetensors")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="pose3d_ros maintainers",
    maintainer_email="maintainers@pose3d-ros.invalid",
    description="3D human pose from one camera for ROS 2",
    license="BSD-3-Clause",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "video_source = pose3d_ros.nodes.video_source:main",
            "keypoint_detector = pose3d_ros.nodes.keypoint_detector:main",
            "lifter = pose3d_ros.nodes.lifter:main",
            "preview_recorder = pose3d_ros.nodes.preview_recorder:main",
            "pose3d-pipeline = pose3d_ros.nodes.pipeline:main",
            "pose3d-lift = pose3d_ros.lift_video:main",
        ],
    },
)
