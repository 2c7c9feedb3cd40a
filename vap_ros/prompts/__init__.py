"""Visual action prompts: skeleton videos, action images, overlays."""

from vap_ros.prompts.action_images import ActionImageCodec, DecodedActions
from vap_ros.prompts.overlay import overlay
from vap_ros.prompts.skeleton import SkeletonRenderer, SkeletonStyle

__all__ = ["ActionImageCodec", "DecodedActions", "SkeletonRenderer", "SkeletonStyle", "overlay"]
