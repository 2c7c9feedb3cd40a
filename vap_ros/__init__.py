"""vap_ros: a visual world model for a Franka rig, driven by visual action prompts.

Importing the top-level package is light: no torch, MuJoCo or rclpy import happens here.
Subpackages: ``robot`` (URDF kinematics), ``camera`` (calibrated pinhole cameras),
``prompts`` (skeleton prompts, action images), ``data``, ``model``, ``train``, ``sim`` and
``ros`` (the only place that imports rclpy).
"""

from vap_ros.errors import VapError

__all__ = ["VapError", "__version__"]
__version__ = "0.1.0"
