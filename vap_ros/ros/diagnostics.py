"""diagnostic_msgs/DiagnosticArray for a node's health: rates, latency, last error."""

from __future__ import annotations

import time
from typing import Any, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from vap_ros.ros.convert import stamp_msg

__all__ = ["diagnostic_array", "level_for"]


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
