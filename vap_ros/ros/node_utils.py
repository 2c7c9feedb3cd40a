"""Small pieces every vap_ros node shares: QoS profiles, parameter declaration, an error log
that throttles repeats and remembers the last error (for diagnostics and tests), a rate meter,
(the executor lifecycle and ``run_node`` live in ``vap_ros.ros.runtime``)."""

from __future__ import annotations

import collections
import threading
import time

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

__all__ = [
    "SENSOR_QOS",
    "SENSOR_QOS_DEEP",
    "STATIC_QOS",
    "ErrorLog",
    "RateMeter",
    "reliable_qos",
]

# Images and joint states: best effort, keep only the newest (latest-only, no backlog).
SENSOR_QOS: QoSProfile = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=qos_profile_sensor_data.reliability,
    durability=qos_profile_sensor_data.durability)

# Any publisher matches: best effort subscriptions accept reliable and best-effort publishers
# (drivers publish CameraInfo and joint states either way).
SENSOR_QOS_DEEP: QoSProfile = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=qos_profile_sensor_data.reliability,
    durability=qos_profile_sensor_data.durability)

# /tf_static: reliable + transient local, like tf2_ros's StaticTransformBroadcaster.
STATIC_QOS: QoSProfile = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=100,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def reliable_qos(depth: int = 10, *, latched: bool = False) -> QoSProfile:
    """Reliable QoS (plans, rollouts, camera_info); ``latched`` = transient local."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


class ErrorLog:
    """Logs bad inputs as one clear line each, at most once per ``throttle_s`` per distinct
    message, and keeps counts, the last error and a short history (for diagnostics/tests)."""

    def __init__(self, logger, throttle_s: float = 2.0, history: int = 50) -> None:
        self._logger = logger
        self._throttle_s = throttle_s
        self._last_logged: dict[str, float] = {}
        self._lock = threading.Lock()
        self.recent: collections.deque[str] = collections.deque(maxlen=history)
        self.counts: collections.Counter[str] = collections.Counter()
        self.last_error: str = ""
        self.last_error_time: float = 0.0

    def warn(self, source: str, message: str, *, kind: str = "warning") -> None:
        """Like ``error`` (counted, remembered) but logged as a warning."""
        self.error(source, message, kind=kind, _level="warning")

    def error(self, source: str, message: str, *, kind: str = "input",
              _level: str = "error") -> None:
        line = f"{source}: {message}"
        now = time.monotonic()
        with self._lock:
            self.counts[kind] += 1
            self.last_error, self.last_error_time = line, now
            self.recent.append(line)
            if now - self._last_logged.get(line, -1e9) < self._throttle_s:
                return
            self._last_logged[line] = now
            if len(self._last_logged) > 256:
                self._last_logged.clear()
        # two call sites: rclpy refuses one call site logging at two severities
        if _level == "warning":
            self._logger.warning(line)
        else:
            self._logger.error(line)

    def info(self, message: str) -> None:
        with self._lock:
            self.recent.append(message)
        self._logger.info(message)

    def seen(self, text: str) -> bool:
        """Whether a recent logged line contains ``text`` (for tests)."""
        with self._lock:
            return any(text in line for line in self.recent)


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._t: collections.deque[float] = collections.deque(maxlen=10_000)
        self.total = 0

    def tick(self, t: float | None = None) -> None:
        self._t.append(time.monotonic() if t is None else t)
        self.total += 1

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        while self._t and now - self._t[0] > self.window_s:
            self._t.popleft()
        if len(self._t) < 2:
            return 0.0
        return (len(self._t) - 1) / max(self._t[-1] - self._t[0], 1e-9)
