"""A small static-transform cache: what tf2_ros's buffer does for ``/tf_static``, enough to find
each camera's optical frame relative to the robot base (tf2_ros is not installable here).

Only static transforms are kept (cameras on fixed mounts). A camera on the wrist would need the
dynamic ``/tf`` tree, which this cache does not follow.
"""

from __future__ import annotations

import threading

import numpy as np
from tf2_msgs.msg import TFMessage

from vap_ros.errors import CalibrationError
from vap_ros.ros.convert import matrix_from_transform
from vap_ros.ros.node_utils import STATIC_QOS

__all__ = ["StaticTfListener", "TransformTree"]


class TransformTree:
    """Parent → child transforms by frame name; ``lookup`` composes along the tree."""

    def __init__(self) -> None:
        self._parent: dict[str, tuple[str, np.ndarray]] = {}  # child -> (parent, T_parent_child)
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change, so users can rebuild cameras lazily

    def set(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        parent, child = parent.lstrip("/"), child.lstrip("/")
        with self._lock:
            old = self._parent.get(child)
            if old is None or old[0] != parent or not np.array_equal(old[1], T_parent_child):
                self._parent[child] = (parent, np.asarray(T_parent_child, np.float64))
                self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._parent.clear()
            self.version += 1

    def frames(self) -> set[str]:
        with self._lock:
            return set(self._parent) | {p for p, _ in self._parent.values()}

    def _to_root(self, frame: str) -> tuple[str, np.ndarray]:
        """(root name, T_root_frame)."""
        T = np.eye(4)
        seen = set()
        while frame in self._parent:
            if frame in seen:
                raise CalibrationError(f"TF loop at frame {frame!r}")
            seen.add(frame)
            parent, T_pc = self._parent[frame]
            T = T_pc @ T
            frame = parent
        return frame, T

    def lookup(self, target: str, source: str) -> np.ndarray:
        """``T_target_source``: maps points in ``source`` coordinates into ``target``.

        Raises:
            CalibrationError: a frame is unknown or the two are not connected.
        """
        target, source = target.lstrip("/"), source.lstrip("/")
        with self._lock:
            known = set(self._parent) | {p for p, _ in self._parent.values()}
            for f in (target, source):
                if f not in known:
                    raise CalibrationError(
                        f"frame {f!r} not on /tf_static (known: {sorted(known) or 'none yet'})")
            root_t, T_rt = self._to_root(target)
            root_s, T_rs = self._to_root(source)
        if root_t != root_s:
            raise CalibrationError(f"frames {target!r} and {source!r} are not connected on "
                                   f"/tf_static (roots {root_t!r} and {root_s!r})")
        return np.linalg.inv(T_rt) @ T_rs


class StaticTfListener:
    """Subscribes ``/tf_static`` (reliable, transient local) into a ``TransformTree``;
    ``on_change()`` is called after each message."""

    def __init__(self, node, topic: str = "/tf_static", tree: TransformTree | None = None,
                 callback_group=None, on_change=None) -> None:
        self.tree = tree or TransformTree()
        self._on_change = on_change
        self.sub = node.create_subscription(TFMessage, topic, self._on_tf, STATIC_QOS,
                                            callback_group=callback_group)

    def _on_tf(self, msg: TFMessage) -> None:
        for tf in msg.transforms:
            self.tree.set(tf.header.frame_id, tf.child_frame_id, matrix_from_transform(tf))
        if self._on_change is not None:
            self._on_change()
