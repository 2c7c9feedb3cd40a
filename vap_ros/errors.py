"""One error base for the whole package; subclasses carry the data that was wrong.

The library raises these; ROS nodes catch ``VapError``, log its message and keep running;
batch tools count and report them. Foreign errors are wrapped with ``raise ... from err``.
"""

from __future__ import annotations

__all__ = [
    "BagError",
    "CacheError",
    "CalibrationError",
    "CheckpointError",
    "ConfigError",
    "ImageError",
    "JointLimitError",
    "JointStateError",
    "MissingInputError",
    "ModelError",
    "OutputError",
    "PlanTooShort",
    "RolloutCancelled",
    "StaleInputError",
    "TimeJump",
    "TrajectoryError",
    "VapError",
    "WaitTimeout",
]

_MISSING = object()  # "no value": a ConfigError about a key whose value is absent or irrelevant


class VapError(Exception):
    """Base of every error vap_ros raises on bad input."""


class ConfigError(VapError):
    """A configuration file or value is missing, malformed or out of range.

    Raised either with a plain message or with the offending setting as data; the message is
    then composed as ``[source: ]key=value: expected ...`` (``key`` is a dotted path such as
    ``clip.frames`` or ``cameras[0].name``). Callers that know more context add it in place
    (``within``) and re-raise, so the message always names the full path and the file.

    Attributes:
        key: dotted path of the offending setting, or None.
        value: the offending value (``None`` also when there is none; see ``has_value``).
        expected: what was expected, in words (or None).
        source: the file, preset or checkpoint the setting came from (or None).
    """

    def __init__(self, message: str = "", *, key: str | None = None, value=_MISSING,
                 expected: str | None = None, source: str | None = None):
        self.message = message
        self.key = key
        self.has_value = value is not _MISSING
        self.value = value if self.has_value else None
        self.expected = expected
        self.source = source
        super().__init__(str(self))

    def within(self, prefix: str | None = None, *, source: str | None = None) -> ConfigError:
        """Add the enclosing section (``clip`` makes ``frames`` ``clip.frames``) and/or the
        source (kept if already set); returns ``self`` for ``raise err.within(...)``."""
        if prefix:
            if self.key is None:
                self.key = prefix
            else:
                sep = "" if self.key.startswith("[") else "."
                self.key = f"{prefix}{sep}{self.key}"
        if source and not self.source:
            self.source = source
        self.args = (str(self),)
        return self

    def __str__(self) -> str:
        import reprlib

        body = self.message or (f"expected {self.expected}" if self.expected else "invalid")
        if self.key is not None:
            head = f"{self.key}={reprlib.repr(self.value)}" if self.has_value else self.key
            body = f"{head}: {body}"
        return f"{self.source}: {body}" if self.source else body


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


class JointLimitError(JointStateError):
    """A joint position (or the gripper width) lies outside the robot's limits.

    Attributes:
        joint: the joint's name (or ``gripper width``).
        value: the position offered, in ``unit``.
        lower, upper: the limits, in ``unit``.
        unit: "rad" (revolute), "m" (prismatic joints, gripper width).
    """

    def __init__(self, joint: str, value: float, lower: float, upper: float, *,
                 unit: str = "rad", expected=()):
        super().__init__(f"{joint}={value:g} {unit} is outside its limits [{lower:g}, "
                         f"{upper:g}] {unit}", names=(joint,), expected=expected)
        self.joint, self.value, self.lower, self.upper, self.unit = (
            joint, value, lower, upper, unit)


class TrajectoryError(VapError):
    """A joint trajectory is malformed: times not increasing, limits exceeded, NaN, ..."""


class PlanTooShort(TrajectoryError):
    """A recorded plan lasts less than a tool needs (``vap-ros experiment horizon``).

    Attributes:
        duration_s: how long the plan lasts.
        min_s: the shortest plan accepted.
    """

    def __init__(self, message: str, *, duration_s: float = 0.0, min_s: float = 0.0):
        super().__init__(message)
        self.duration_s = duration_s
        self.min_s = min_s


class CalibrationError(VapError):
    """A camera calibration is missing, malformed or uses an unsupported model."""


class ImageError(VapError):
    """An image or video has an unknown encoding, or a size, shape or type that does not
    match its camera or the video it is compared with."""


class BagError(VapError):
    """A bag cannot be read: missing, truncated, corrupt, or lacking a required topic."""


class ModelError(VapError):
    """A world-model input or configuration is inconsistent (shapes, views, presets)."""


class CheckpointError(VapError):
    """A checkpoint or base-model directory is missing, incomplete or corrupt."""


class CacheError(VapError):
    """A clip cache on disk is incomplete or damaged (a shard file missing, truncated or of
    the wrong shape for its manifest).

    Attributes:
        path: the offending file or folder.
    """

    def __init__(self, message: str, *, path=None):
        super().__init__(message)
        self.path = path


class OutputError(VapError):
    """An output path cannot be used: it is a file where a folder is needed, it cannot be
    created, it is not writable, or it holds results that would be silently replaced.

    Attributes:
        path: the offending path.
    """

    def __init__(self, message: str, *, path=None):
        super().__init__(message)
        self.path = path


class WaitTimeout(VapError):
    """A condition waited for did not come true in time (``what`` names it)."""

    def __init__(self, message: str, *, what: str = "", timeout_s: float = 0.0):
        super().__init__(message)
        self.what = what
        self.timeout_s = timeout_s


class StaleInputError(VapError):
    """A live input (image, joint state) is older than a node accepts.

    Attributes:
        source: the topic (or camera) it came from.
        age_s: its age at the time of the check (None: there is none at all).
        max_age_s: the accepted age.
    """

    def __init__(self, message: str, *, source: str = "", age_s: float | None = None,
                 max_age_s: float = 0.0):
        super().__init__(message)
        self.source = source
        self.age_s = age_s
        self.max_age_s = max_age_s


class MissingInputError(ImageError):
    """No image received yet on a camera's topic (start-up, or just after a time jump)."""


class TimeJump(VapError):
    """Stamps went backwards (a bag looped, a clock was reset): caches must be cleared.

    Attributes:
        source: the topic whose stamps jumped.
        back_s: how far back, seconds.
    """

    def __init__(self, source: str, back_s: float) -> None:
        super().__init__(f"time jumped backwards by {back_s:.3f} s on {source} (bag loop or "
                         "clock reset?): cleared cached images, joint states and plans")
        self.source = source
        self.back_s = back_s


class RolloutCancelled(VapError):
    """A rollout was cancelled (an action client cancelled its goal) before it finished."""
