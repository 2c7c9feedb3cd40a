"""A small transform tree from /tf_static (and /tf) messages: frame-to-frame lookups.

Only what calibration needs: fixed camera mounts. A transform seen on ``/tf`` is taken at its
latest value (cameras on a moving link, e.g. a wrist camera, are not supported).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from vap_ros.errors import CalibrationError

__all__ = ["TransformTree"]


class TransformTree:
    """Frames connected by rigid transforms ``T_parent_child``."""

    def __init__(self) -> None:
        self._edges: dict[str, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._edges.values()) // 2

    @property
    def frames(self) -> list[str]:
        return sorted(self._edges)

    def add(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        parent, child = parent.lstrip("/"), child.lstrip("/")
        T = np.asarray(T_parent_child, np.float64)
        self._edges.setdefault(parent, {})[child] = T
        self._edges.setdefault(child, {})[parent] = np.linalg.inv(T)

    def lookup(self, target: str, source: str) -> np.ndarray:
        """``T_target_source``: maps points in ``source`` into ``target``.

        Raises:
            CalibrationError: the frames are not connected.
        """
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return np.eye(4)
        prev: dict[str, tuple[str, np.ndarray] | None] = {target: None}
        queue = deque([target])
        while queue:
            f = queue.popleft()
            for g, T_f_g in self._edges.get(f, {}).items():
                if g not in prev:
                    prev[g] = (f, T_f_g)
                    queue.append(g)
        if source not in prev:
            raise CalibrationError(
                f"no transform between {target!r} and {source!r} in the bag's TF; "
                f"frames present: {self.frames or 'none'}")
        T = np.eye(4)
        f = source
        while prev[f] is not None:
            parent, T_p_f = prev[f]
            T = T_p_f @ T
            f = parent
        return T
