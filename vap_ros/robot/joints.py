"""Map joint states that arrive by name (ROS JointState) to the model's joint order.

Joint names on a robot rarely match the model's exactly: franka_ros2 on an FR3 publishes
``fr3_joint1``…, a Panda model says ``panda_joint1``…, a multi-arm setup prefixes every name
(``left_fr3_joint1``). A *joint-name map* renames incoming names before they are matched:

* exact entries ``{"fr3_joint1": "panda_joint1"}``;
* prefix rules, written with a trailing ``*`` on both sides: ``{"fr3_*": "panda_*"}`` renames
  every name starting with ``fr3_``; ``{"left_*": "*"}`` strips a prefix. Exact entries win;
  among prefix rules the longest matching prefix wins.

The same map serves the dataset builder (rig config ``joint_states.name_map``) and the nodes
(a ``joint_name_map`` parameter: ROS parameters cannot be mappings, so ``parse_name_map`` also
reads ``["fr3_*:=panda_*", ...]`` or ``"fr3_*:=panda_*, a:=b"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Sequence

import numpy as np

from vap_ros.errors import ConfigError, JointStateError

__all__ = ["JointStateMapper", "map_joint_name", "parse_name_map"]


def parse_name_map(spec) -> dict[str, str]:
    """A joint-name map from a mapping, a list of ``"from:=to"`` (or ``"from=to"``) strings,
    or one comma-separated string of them; None / "" / [] give an empty map.

    Raises:
        ConfigError: an entry without ``:=``/``=``, an empty name, a ``*`` anywhere but at the
            end, or a prefix rule mapped to a plain name (naming the entry).
    """
    if spec is None or spec == "" or spec == []:
        return {}
    if isinstance(spec, Mapping):
        items = [(k, v) for k, v in spec.items()]
    else:
        entries = [e for e in spec.split(",")] if isinstance(spec, str) else list(spec)
        items = []
        for e in entries:
            if not isinstance(e, str):
                raise ConfigError(key="joint_name_map", value=e,
                                  expected="strings 'from:=to' (e.g. 'fr3_*:=panda_*')")
            e = e.strip()
            if not e:
                continue
            a, sep, b = e.partition(":=")
            if not sep:
                a, sep, b = e.partition("=")
            if not sep:
                raise ConfigError(key="joint_name_map", value=e,
                                  expected="'from:=to' (e.g. 'fr3_*:=panda_*' or "
                                           "'fr3_joint1:=panda_joint1')")
            items.append((a, b))
    out: dict[str, str] = {}
    for a, b in items:
        if not isinstance(a, str) or not isinstance(b, str):
            raise ConfigError(key="joint_name_map", value={a: b}, expected="names as strings")
        a, b = a.strip(), b.strip()
        rule = a.endswith("*")
        if not a or (not b and not rule) or "*" in a[:-1] or "*" in b[:-1] or (
                rule != b.endswith("*")):
            raise ConfigError(
                key="joint_name_map", value=f"{a}:={b}",
                expected="'name:=name', or a prefix rule 'prefix_*:=other_*' / 'prefix_*:=*' "
                         "('*' only at the end, on both sides)")
        out[a] = b
    return out


def map_joint_name(name: str, name_map: Mapping[str, str]) -> str:
    """``name`` renamed by a joint-name map (see the module docstring); unchanged if no entry
    or rule applies."""
    if not name_map:
        return name
    exact = name_map.get(name)
    if exact is not None and not name.endswith("*"):
        return exact
    best = None
    for key, target in name_map.items():
        if key.endswith("*") and name.startswith(key[:-1]) and (
                best is None or len(key) > len(best[0])):
            best = (key, target)
    if best is None:
        return name
    return best[1][:-1] + name[len(best[0]) - 1:]


class JointStateMapper:
    """Reorders named joint positions into ``arm_joint_names`` order and extracts the gripper.

    Args:
        arm_joint_names: the model's commanded joints, in model order.
        gripper_joint_names: finger joints whose positions add up to the gripper width.
        extra: what to do with names the model does not know: ``"error"`` (default, a typo in
            a joint name is caught) or ``"ignore"`` (e.g. a JointState that also lists another
            robot's joints).
        name_map: a joint-name map applied to incoming names first (see the module
            docstring; anything ``parse_name_map`` reads).
    """

    def __init__(
        self,
        arm_joint_names: Sequence[str],
        gripper_joint_names: Sequence[str] = (),
        *,
        extra: Literal["error", "ignore"] = "error",
        name_map=None,
    ) -> None:
        if extra not in ("error", "ignore"):
            raise ConfigError(key="extra", value=extra, expected="'error' or 'ignore'")
        self.arm_joint_names = tuple(arm_joint_names)
        self.gripper_joint_names = tuple(gripper_joint_names)
        self.extra = extra
        self.name_map = parse_name_map(name_map)
        self._known = set(self.arm_joint_names) | set(self.gripper_joint_names)
        self._cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray | None]] = {}
        self._renamed: dict[tuple[str, ...], tuple[str, ...]] = {}

    @classmethod
    def for_robot(cls, robot, *, extra: Literal["error", "ignore"] = "error", name_map=None):
        grip = robot.gripper.joints if robot.gripper is not None else ()
        return cls(robot.arm_joint_names, grip, extra=extra, name_map=name_map)

    def model_names(self, names: Sequence[str]) -> tuple[str, ...]:
        """Incoming joint names renamed by the name map (the names the model uses)."""
        names = tuple(names)
        if not self.name_map:
            return names
        out = self._renamed.get(names)
        if out is None:
            out = tuple(map_joint_name(n, self.name_map) for n in names)
            if len(self._renamed) < 64:
                self._renamed[names] = out
        return out

    def knows(self, model_name: str) -> bool:
        """Whether a (renamed) joint name is one of the model's arm or gripper joints."""
        return model_name in self._known

    def is_gripper_only(self, names: Sequence[str]) -> bool:
        """A joint state that holds finger joints only (a separate gripper driver, e.g.
        ``/franka_gripper/joint_states``), after renaming."""
        renamed = self.model_names(names)
        return bool(renamed) and bool(self.gripper_joint_names) and set(renamed) <= set(
            self.gripper_joint_names)

    def _indices(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        cached = self._cache.get(names)
        if cached is not None:
            return cached
        incoming = names
        names = self.model_names(names)
        renamed = (f" (renamed by the joint-name map to {list(names)})"
                   if names != incoming else "")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise JointStateError(f"duplicate joint names {dup}{renamed}", names=incoming,
                                  expected=self.arm_joint_names)
        unknown = [incoming[i] for i, n in enumerate(names) if n not in self._known]
        if unknown and self.extra == "error":
            raise JointStateError(
                f"unknown joint names {unknown}; expected {list(self.arm_joint_names)}"
                + (f" (+ gripper {list(self.gripper_joint_names)})"
                   if self.gripper_joint_names else "")
                + (f"; joint-name map {self.name_map}" if self.name_map else
                   _hint(unknown, self.arm_joint_names)),
                names=incoming, expected=self.arm_joint_names,
            )
        missing = [n for n in self.arm_joint_names if n not in names]
        if missing:
            raise JointStateError(
                f"missing joints {missing}: got {len(names)} names {list(incoming)}{renamed}, "
                f"expected all of {list(self.arm_joint_names)}",
                names=incoming, expected=self.arm_joint_names,
            )
        arm_idx = np.array([names.index(n) for n in self.arm_joint_names], dtype=np.intp)
        grip = [names.index(n) for n in self.gripper_joint_names if n in names]
        grip_idx = np.array(grip, dtype=np.intp) if len(grip) == len(
            self.gripper_joint_names) and grip else None
        if len(self._cache) < 64:
            self._cache[incoming] = (arm_idx, grip_idx)
        return arm_idx, grip_idx

    def map(self, names: Sequence[str], positions) -> tuple[np.ndarray, float | None]:
        """One joint state → (arm positions (n,) in model order, gripper width in m or None).

        Raises:
            JointStateError: count of names ≠ count of positions, unknown / missing /
                duplicate names, NaN or inf in a used position.
        """
        names = tuple(names)
        pos = np.asarray(positions, dtype=np.float64).reshape(-1)
        if len(names) != pos.shape[0]:
            raise JointStateError(
                f"joint state has {len(names)} names but {pos.shape[0]} positions",
                names=names, expected=self.arm_joint_names,
            )
        arm_idx, grip_idx = self._indices(names)
        arm = pos[arm_idx]
        if not np.all(np.isfinite(arm)):
            bad = [self.arm_joint_names[i] for i in np.flatnonzero(~np.isfinite(arm))]
            raise JointStateError(f"non-finite positions (NaN/inf) for joints {bad}",
                                  names=names, expected=self.arm_joint_names)
        width = None
        if grip_idx is not None:
            g = pos[grip_idx]
            if not np.all(np.isfinite(g)):
                raise JointStateError(
                    f"non-finite gripper positions for {list(self.gripper_joint_names)}",
                    names=names, expected=self.gripper_joint_names)
            width = float(g.sum())
        return arm, width

    def map_many(self, names: Sequence[str], positions) -> tuple[np.ndarray, np.ndarray | None]:
        """Many states with the same name order: positions (T, len(names)) → (T, n), (T,)."""
        names = tuple(names)
        pos = np.atleast_2d(np.asarray(positions, dtype=np.float64))
        if pos.shape[1] != len(names):
            raise JointStateError(
                f"positions have {pos.shape[1]} columns but there are {len(names)} names",
                names=names, expected=self.arm_joint_names)
        arm_idx, grip_idx = self._indices(names)
        arm = pos[:, arm_idx]
        if not np.all(np.isfinite(arm)):
            raise JointStateError("non-finite arm positions (NaN/inf)", names=names,
                                  expected=self.arm_joint_names)
        width = None if grip_idx is None else pos[:, grip_idx].sum(axis=1)
        return arm, width


def _hint(unknown: Sequence[str], expected: Sequence[str]) -> str:
    """A joint-name-map suggestion when an unknown name differs from an expected one only in
    its prefix (``fr3_joint1`` vs ``panda_joint1``)."""
    for u in unknown:
        for e in expected:
            tail = next((k for k, (a, b) in enumerate(zip(u[::-1], e[::-1], strict=False))
                         if a != b),
                        min(len(u), len(e)))
            if tail >= 3 and tail < min(len(u), len(e)):
                a, b = u[:len(u) - tail], e[:len(e) - tail]
                return f" (the joint-name map '{a}*:={b}*' would rename {u!r} to {e!r})"
    return ""
