"""One error base for the whole package; subclasses carry the data that was wrong.

The library raises these; ROS nodes catch ``VapError``, log its message and keep running;
batch tools count and report them. Foreign errors are wrapped with ``raise ... from err``.
"""

from __future__ import annotations

__all__ = [
    "BagError",
    "CalibrationError",
    "CheckpointError",
    "ConfigError",
    "ImageError",
    "JointStateError",
    "ModelError",
    "TrajectoryError",
    "VapError",
    "WaitTimeout",
]


class VapError(Exception):
    """Base of every error vap_ros raises on bad input."""


class ConfigError(VapError):
    """A configuration file or value is missing, malformed or out of range."""


class JointStateError(VapError):
    """Joint names, counts or values do not fit the robot model.

    Attributes:
        names: the joint names that were offered (may be empty).
        expected: the joint names the model expects.
    """

    def __init__(self, message: str, *, names=(), expected=()):
        super().__init__(message)
        self.names = tuple(names)
        self.expected = tuple(expected)


class TrajectoryError(VapError):
    """A joint trajectory is malformed: times not increasing, limits exceeded, NaN, ..."""


class CalibrationError(VapError):
    """A camera calibration is missing, malformed or uses an unsupported model."""


class ImageError(VapError):
    """An image has an unknown encoding or a size that does not match its camera."""


class BagError(VapError):
    """A bag cannot be read: missing, truncated, corrupt, or lacking a required topic."""


class ModelError(VapError):
    """A world-model input or configuration is inconsistent (shapes, views, presets)."""


class CheckpointError(VapError):
    """A checkpoint or base-model directory is missing, incomplete or corrupt."""


class WaitTimeout(VapError):
    """A condition waited for did not come true in time (``what`` names it)."""

    def __init__(self, message: str, *, what: str = "", timeout_s: float = 0.0):
        super().__init__(message)
        self.what = what
        self.timeout_s = timeout_s
