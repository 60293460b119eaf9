"""Offline training and evaluation of the lifters (no ROS)."""
