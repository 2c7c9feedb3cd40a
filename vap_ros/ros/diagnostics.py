"""diagnostic_msgs/DiagnosticArray for a node's health: rates, latency, last error."""

from __future__ import annotations

import collections
import time
from typing import Any, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from vap_ros.ros.convert import stamp_msg
from vap_ros.ros.node_utils import RateMeter

__all__ = ["LookaheadStats", "diagnostic_array", "level_for"]


def level_for(errors, recent_s: float = 10.0, *, ok_message: str = "ok") -> tuple[bytes, str]:
    """OK, or WARN with the last error if one happened in the last ``recent_s`` seconds."""
    if errors.last_error and time.monotonic() - errors.last_error_time < recent_s:
        return DiagnosticStatus.WARN, errors.last_error[:200]
    return DiagnosticStatus.OK, ok_message


def diagnostic_array(name: str, stamp_ns: int, level: bytes, message: str,
                     values: Mapping[str, Any], hardware_id: str = "vap_ros") -> DiagnosticArray:
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id)
    status.values = [KeyValue(key=k, value=(f"{v:.4g}" if isinstance(v, float) else str(v)))
                     for k, v in values.items()]
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp_msg(stamp_ns)
    return msg


class LookaheadStats:
    """What the lookahead node counts and times, for /diagnostics, benchmarks and tests."""

    def __init__(self) -> None:
        self.images = RateMeter()
        self.joint_states = RateMeter()
        self.rollouts = RateMeter(10.0)
        self.plans = self.action_goals = self.refused_stale = self.refused_missing = 0
        self.time_jumps = 0
        self.latency_s = self.inference_s = self.overhead_s = 0.0
        self.overheads_s: collections.deque[float] = collections.deque(maxlen=1000)
        self.timings: collections.deque[dict] = collections.deque(maxlen=1000)
        self.sources: dict[str, int] = {}

    def record(self, source: str, timings: dict, overhead_s: float, inference_s: float,
               latency_s: float) -> None:
        """One published rollout: its timings, the node's overhead (everything but the
        model), the model's time and the age of its newest conditioning image at publish."""
        self.rollouts.tick()
        self.sources[source] = self.sources.get(source, 0) + 1
        self.overhead_s, self.inference_s, self.latency_s = overhead_s, inference_s, latency_s
        self.overheads_s.append(overhead_s)
        self.timings.append(timings)

    def values(self) -> dict[str, Any]:
        return {"rollouts": self.rollouts.total, "rollout_rate_hz": self.rollouts.rate(),
                "image_rate_hz": self.images.rate(),
                "joint_state_rate_hz": self.joint_states.rate(), "plans": self.plans,
                "action_goals": self.action_goals, "latency_ms": self.latency_s * 1e3,
                "inference_ms": self.inference_s * 1e3, "overhead_ms": self.overhead_s * 1e3,
                "refused_missing": self.refused_missing, "refused_stale": self.refused_stale,
                "time_jumps": self.time_jumps}
