"""Node parameters in the package's one config style.

A node's parameters are a strict config dataclass (``vap_ros.config.StrictConfig``): the
fields are the parameter names, their defaults and types; ``param(..., help=...)`` gives the
description ``ros2 param describe`` shows, and ``runtime=True`` marks a parameter that may change
while the node runs (the others are declared read-only, so ROS itself refuses to change them).
``declare(node, Params)`` declares them all and returns the validated values; a wrong type, a bad
value or an unknown parameter name in the node's overrides (a typo in a parameter file) is one
``ConfigError`` naming it. ``on_set(node, get, set)`` validates run-time changes the same way.

No rclpy import at module level: the dataclasses are plain data (tests and docs read them).
"""

from __future__ import annotations

import array
import dataclasses
from typing import Any, Callable, TypeVar

from vap_ros.config import StrictConfig
from vap_ros.errors import ConfigError

__all__ = ["NodeParams", "declare", "on_set", "param"]

P = TypeVar("P", bound="NodeParams")


def param(default: Any, help: str, *, runtime: bool = False) -> Any:
    """A parameter field: its default, its description, whether it may change at run time."""
    meta = {"help": help, "runtime": runtime}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class NodeParams(StrictConfig):
    """Base of a node's parameter dataclass (``@dataclass(frozen=True)`` subclasses)."""

    @classmethod
    def runtime_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                if f.metadata.get("runtime")}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """{name: default} as ROS parameter values (tuples as lists)."""
        out = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            value = (f.default if f.default is not dataclasses.MISSING
                     else f.default_factory())  # type: ignore[operator]
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "")
                for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    """A ROS parameter value as plain data (integer/float arrays come back as array.array)."""
    if isinstance(value, array.array):
        return value.tolist()
    return value


def declare(node, cls: type[P]) -> P:
    """Declare every field of ``cls`` as a parameter of ``node`` and return the values in
    effect (defaults, parameter files, ``-p`` overrides), validated.

    Raises:
        ConfigError: an override names no parameter of this node, or a value is invalid.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    names = cls.field_names()
    overrides = getattr(node, "_parameter_overrides", {})  # rclpy keeps no public list
    unknown = sorted(k for k in overrides if k not in names and k != "use_sim_time"
                     and not k.startswith("qos_overrides."))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown} for node {node.get_name()!r}; "
                          f"its parameters: {', '.join(names)}", key=unknown[0])
    runtime = cls.runtime_names()
    values = {}
    for name, default in cls.defaults().items():
        desc = ParameterDescriptor(description=cls.descriptions()[name],
                                   read_only=name not in runtime, dynamic_typing=True)
        values[name] = _plain(node.declare_parameter(name, default, desc).value)
    return cls.from_dict(values, source=f"parameters of node {node.get_name()!r}")


def on_set(node, get: Callable[[], P], set_: Callable[[P], None]) -> None:
    """Validate run-time parameter changes of ``node`` like the declared values; on success
    ``set_(new params)`` (read-only parameters are refused by ROS before this runs)."""
    from rcl_interfaces.msg import SetParametersResult

    def callback(params) -> SetParametersResult:
        changes = {p.name: _plain(p.value) for p in params if p.name != "use_sim_time"}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            new = get().replace(**changes)
        except ConfigError as err:
            return SetParametersResult(successful=False, reason=str(err))
        set_(new)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(callback)
