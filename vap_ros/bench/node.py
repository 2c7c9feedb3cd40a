"""Lookahead node per rollout: overhead (instant model) or plan → rollout latency with a model.

The measurement spins real rclpy nodes, so it lives in ``vap_ros.ros.bench_node`` (only
``vap_ros.ros`` imports rclpy); this module is its ``vap-ros bench node`` entry.
"""

from __future__ import annotations

HELP = "lookahead node per rollout: overhead (instant model) or plan → rollout with a model"


def add_arguments(p) -> None:
    from vap_ros.ros.bench_node import add_arguments as _add

    _add(p)


def run(args) -> dict:
    from vap_ros.ros.bench_node import run as _run

    return _run(args)
