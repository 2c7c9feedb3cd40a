"""The world model as an action labeller (and the data of its joint video + action-image mode).

* ``data``: clip-cache clips with action images (FK of the logged joints through the codec)
  and goal images, for training ``generate_actions: action_images`` models; with the
  normalised joint states for ``joint_states`` models.
"""

from vap_ros.label.data import (
    OPEN_WIDTH_M,
    ActionImageClips,
    JointStateClips,
    JointStateScale,
    action_codec,
    clip_cameras,
    gripper_open,
    wants_action_images,
    wants_joint_states,
)

__all__ = ["OPEN_WIDTH_M", "ActionImageClips", "JointStateClips", "JointStateScale",
           "action_codec", "clip_cameras", "gripper_open", "wants_action_images",
           "wants_joint_states"]
