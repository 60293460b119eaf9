"""Lifting 2D keypoints to 3D: online per track (the node), offline per recording (pose3d-lift)."""
