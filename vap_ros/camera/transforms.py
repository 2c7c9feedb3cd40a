"""One transform tree for the package: frames connected by rigid transforms, as /tf_static and
/tf describe them. The nodes fill it from their /tf_static subscription
(``vap_ros.ros.tf_cache.StaticTfListener``), the bag reader from a bag's TF messages
(``vap_ros.data.recording``); both look camera mounts up in it.

Only what calibration needs: fixed camera mounts. A transform seen again replaces the old one
(a camera on a moving link, e.g. a wrist camera, is not supported). Thread-safe: a node's
subscription writes while its worker reads.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from vap_ros.errors import CalibrationError

__all__ = ["TransformTree"]


class TransformTree:
    """Frames connected by rigid transforms ``T_parent_child`` (either direction is looked up).

    Args:
        source: where the transforms come from, for error messages (``/tf_static``,
            ``the bag's TF``).

    Attributes:
        version: bumped on every change, so users can rebuild what they derived lazily.
    """

    def __init__(self, source: str = "/tf_static") -> None:
        self.source = source
        self._edges: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()
        self.version = 0

    def set(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        """Add or replace the transform of ``child`` relative to ``parent`` (leading slashes of
        frame names are ignored)."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        T = np.asarray(T_parent_child, np.float64)
        with self._lock:
            old = self._edges.get(parent, {}).get(child)
            if old is not None and np.array_equal(old, T):
                return
            self._edges.setdefault(parent, {})[child] = T
            self._edges.setdefault(child, {})[parent] = np.linalg.inv(T)
            self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._edges.clear()
            self.version += 1

    def frames(self) -> list[str]:
        with self._lock:
            return sorted(self._edges)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._edges.values()) // 2

    def lookup(self, target: str, source: str) -> np.ndarray:
        """``T_target_source``: maps points in ``source`` coordinates into ``target``.

        Raises:
            CalibrationError: a frame is unknown, or the two are not connected.
        """
        target, source = target.lstrip("/"), source.lstrip("/")
        with self._lock:
            for f in (target, source):
                if f not in self._edges:
                    raise CalibrationError(f"frame {f!r} not on {self.source} (known: "
                                           f"{', '.join(sorted(self._edges)) or 'none yet'})")
            if target == source:
                return np.eye(4)
            prev: dict[str, tuple[str, np.ndarray] | None] = {target: None}
            queue = deque([target])
            while queue:
                f = queue.popleft()
                for g, T_f_g in self._edges[f].items():
                    if g not in prev:
                        prev[g] = (f, T_f_g)
                        queue.append(g)
        if source not in prev:
            raise CalibrationError(f"frames {target!r} and {source!r} are not connected on "
                                   f"{self.source}")
        T = np.eye(4)
        f = source
        step = prev[f]
        while step is not None:
            parent, T_p_f = step
            T = T_p_f @ T
            f = parent
            step = prev[f]
        return T
