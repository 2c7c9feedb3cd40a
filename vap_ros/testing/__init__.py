"""Harnesses for tests, benchmarks and demos, kept apart from the library they exercise:
synthetic rig bags with exactly known ground truth (``bags``), synthetic moving-arm clips
(``clips``), and the rig shared by both (``rig``: the test pose ``PANDA_HOME`` and the look-at
camera ring). No ROS import here (the stand-in robot that publishes over DDS is
``vap_ros.ros.probe``, since only ``vap_ros.ros`` imports rclpy)."""

from vap_ros.testing.rig import PANDA_HOME, camera_ring, default_cameras

__all__ = ["PANDA_HOME", "camera_ring", "default_cameras"]
