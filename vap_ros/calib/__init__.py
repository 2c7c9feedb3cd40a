"""Camera calibration from a recording's own images: extrinsic (and optionally intrinsic)
refinement against the robot rendered from its URDF meshes, and the alignment score that
tells a good calibration from a bad one.

Importing ``vap_ros.calib`` does not import MuJoCo; the renderer loads on first use.
"""

from vap_ros.calib.bag import check_bag, refine_bag
from vap_ros.calib.errors import (
    CameraMovedError,
    NotConvergedError,
    RefinementRefused,
    RobotNotInViewError,
    TooFewMovingFramesError,
)
from vap_ros.calib.frames import CalibrationFrames, load_frames
from vap_ros.calib.refine import RefineResult, camera_change, refine_camera
from vap_ros.calib.report import alignment_report, format_alignment, outline_sheet
from vap_ros.calib.score import AlignmentScore, alignment_score

__all__ = [
    "AlignmentScore",
    "CalibrationFrames",
    "CameraMovedError",
    "NotConvergedError",
    "RefineResult",
    "RefinementRefused",
    "RobotNotInViewError",
    "TooFewMovingFramesError",
    "alignment_report",
    "alignment_score",
    "camera_change",
    "check_bag",
    "format_alignment",
    "load_frames",
    "outline_sheet",
    "refine_bag",
    "refine_camera",
]
