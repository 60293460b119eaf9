"""Launch the pose3d_ros pipeline: video_source -> keypoint_detector -> lifter (+ preview_recorder).

    ros2 launch pose3d_ros pipeline.launch.py source:=/path/to/video.mp4 preview:=true
    ros2 launch pose3d_ros pipeline.launch.py namespace:=front frame_prefix:=front/ \
        frame_id:=front_camera_optical_frame source:=/dev/video0                   # one per camera

One process per node. Images of 640x360 exceed Fast DDS's shared-memory segment, so between
processes they travel as UDP fragments: a best-effort subscriber then loses about a third of
them at 30 Hz (bench/lifter.py), hence keypoint_detector's reliable subscription whenever the
image publishers are reliable (``image_reliability`` auto, its default), or give every process,
the camera driver's included, config/fastdds_shm.xml (FASTRTPS_DEFAULT_PROFILES_FILE).

Without a ROS 2 distro (PyPI wheels, no launch_ros), ``pose3d-pipeline`` runs the same nodes
with the same parameters file in one process.
"""
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    params_file = LaunchConfiguration("params_file")
    source = LaunchConfiguration("source")
    namespace = LaunchConfiguration("namespace")
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("pose3d_ros"), "config", "pipeline.yaml"]),
            description="ROS parameters file for all nodes"),
        DeclareLaunchArgument("source", default_value="",
                              description="Video file, image folder or camera device; empty: the sample clip"),
        DeclareLaunchArgument(
            "image_reliability", default_value="auto",
            description="keypoint_detector's image subscription: auto (reliable while every image publisher is "
                        "reliable, as video_source is: no frame lost between processes), reliable or best_effort"),
        DeclareLaunchArgument("preview", default_value="false",
                              description="Also write a preview video and PNG (preview_recorder)"),
        DeclareLaunchArgument("frame_id", default_value="camera_optical_frame",
                              description="video_source's image frame_id (the camera's optical frame in TF)"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of every node and topic: one pipeline per camera"),
        DeclareLaunchArgument("frame_prefix", default_value="",
                              description="Prefix of the lifter's TF frames (e.g. front/), so that the "
                                          "people of two cameras get different frames"),
        Node(package="pose3d_ros", executable="video_source", name="video_source", namespace=namespace,
             parameters=[params_file, {"source": source, "frame_id": LaunchConfiguration("frame_id")}]),
        Node(package="pose3d_ros", executable="keypoint_detector", name="keypoint_detector", namespace=namespace,
             parameters=[params_file, {"image_reliability": LaunchConfiguration("image_reliability")}]),
        Node(package="pose3d_ros", executable="lifter", name="lifter", namespace=namespace,
             parameters=[params_file, {"frame_prefix": LaunchConfiguration("frame_prefix")}]),
        Node(package="pose3d_ros", executable="preview_recorder", name="preview_recorder", namespace=namespace,
             parameters=[params_file], condition=IfCondition(LaunchConfiguration("preview"))),
    ])
