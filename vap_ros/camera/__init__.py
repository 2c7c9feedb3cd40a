"""Calibrated pinhole cameras: intrinsics + OpenCV distortion + ``T_cam_base``, projection."""

from vap_ros.camera.calibration import (
    camera_from_dict,
    camera_to_dict,
    load_calibration,
    pose_from_transform,
    save_calibration,
    transform_from_pose,
)
from vap_ros.camera.camera import SUPPORTED_DISTORTION_MODELS, Camera, Projection, look_at
from vap_ros.camera.transforms import TransformTree

__all__ = [
    "SUPPORTED_DISTORTION_MODELS",
    "Camera",
    "Projection",
    "TransformTree",
    "camera_from_dict",
    "camera_to_dict",
    "load_calibration",
    "look_at",
    "pose_from_transform",
    "save_calibration",
    "transform_from_pose",
]
