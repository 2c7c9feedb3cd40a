"""``/tf_static`` into the package's transform tree (``vap_ros.camera.TransformTree``): what
tf2_ros's buffer does for static transforms, enough to find each camera's optical frame relative
to the robot base (tf2_ros is not installable here).

Only static transforms are kept (cameras on fixed mounts). A camera on the wrist would need the
dynamic ``/tf`` tree, which this listener does not follow.
"""

from __future__ import annotations

from tf2_msgs.msg import TFMessage

from vap_ros.camera.transforms import TransformTree
from vap_ros.data.messages import tf_transforms
from vap_ros.ros.node_utils import STATIC_QOS

__all__ = ["StaticTfListener"]


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
        for parent, child, T in tf_transforms(msg):
            self.tree.set(parent, child, T)
        if self._on_change is not None:
            self._on_change()
