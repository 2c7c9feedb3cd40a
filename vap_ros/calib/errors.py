"""Why a refinement or an alignment check refuses its input (each names the cause)."""

from __future__ import annotations

from vap_ros.errors import CalibrationError

__all__ = ["CameraMovedError", "NotConvergedError", "RefinementRefused",
           "RobotNotInViewError", "TooFewMovingFramesError"]


class RefinementRefused(CalibrationError):
    """The images cannot say where the camera is; no calibration is written.

    Attributes:
        camera: the camera's name.
        cause: a short machine-readable cause (``too_few_moving_frames``,
            ``robot_not_in_view``, ``camera_moved``).
    """

    cause = "refused"

    def __init__(self, message: str, *, camera: str = ""):
        super().__init__(message)
        self.camera = camera


class TooFewMovingFramesError(RefinementRefused):
    """Too few images show the robot in distinct poses (it hardly moves)."""

    cause = "too_few_moving_frames"


class RobotNotInViewError(RefinementRefused):
    """The robot is outside the image, or nothing moves where it should be."""

    cause = "robot_not_in_view"


class CameraMovedError(RefinementRefused):
    """The camera moved during the recording (a wrist camera, a bumped tripod)."""

    cause = "camera_moved"


class NotConvergedError(RefinementRefused):
    """The optimisation ran away: the refined outline fits worse than the start, or the
    correction is larger than anything the method can recover from."""

    cause = "did_not_converge"
