"""pose3d_ros: 3D human pose for ROS 2 from one camera."""
__version__ = "0.1.0"
