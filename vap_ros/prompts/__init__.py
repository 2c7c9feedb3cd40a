"""Visual action prompts: skeleton, silhouette and depth videos, action images, overlays.

``PromptRenderer`` renders every prompt type (``PROMPT_TYPES``) for training clips and live
inference alike. Importing this package is light (the list of prompt types, no OpenCV or
MuJoCo): the renderers load on first use.
"""

from vap_ros.prompts.encoding import PROMPT_TYPES, PromptType

# the function, not its module: importing vap_ros.prompts.overlay later must not shadow it
from vap_ros.prompts.overlay import overlay

__all__ = ["PROMPT_TYPES", "ActionImageCodec", "DecodedActions", "PromptRenderer", "PromptType",
           "SkeletonRenderer", "SkeletonStyle", "overlay"]

_LAZY = {"ActionImageCodec": "action_images", "DecodedActions": "action_images",
         "PromptRenderer": "renderer", "SkeletonRenderer": "skeleton",
         "SkeletonStyle": "skeleton"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"vap_ros.prompts.{module}"), name)
