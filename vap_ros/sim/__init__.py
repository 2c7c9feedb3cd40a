"""A simulated Franka rig (MuJoCo): tabletop scenes with calibrated cameras, scripted tasks,
recording to rosbag2 MCAP.

Importing this package imports MuJoCo; ``MUJOCO_GL`` defaults to ``egl`` (headless Mesa).

Quick start::

    import numpy as np
    from vap_ros.sim import SceneConfig, SimRig, plan_task, record_episode

    cfg = SceneConfig(width=128, height=128, randomize_cameras=True)
    rig = SimRig.from_config(cfg, np.random.default_rng(0))
    plan = plan_task("pick_place", rig.scene.layout, rig.robot, np.random.default_rng(1))
    record_episode(rig, plan.trajectory, "episode_0000")   # rosbag2 MCAP folder
"""

from vap_ros.sim.bag import EpisodeBagWriter
from vap_ros.sim.cameras import camera_from_mujoco, mujoco_camera_params
from vap_ros.sim.config import DEFAULT_CAMERAS, CameraJitter, CameraSpec, SceneConfig
from vap_ros.sim.ik import CartesianPlanner, IKSolver, PlanningError
from vap_ros.sim.layout import SceneLayout, sample_layout
from vap_ros.sim.record import EPOCH_NS, record_episode, record_episodes
from vap_ros.sim.rig import JointStateSample, SimRig
from vap_ros.sim.scene import Scene, build_scene
from vap_ros.sim.tasks import HOME_Q, TASKS, TaskPlan, home_configuration, plan_task

__all__ = [
    "DEFAULT_CAMERAS",
    "EPOCH_NS",
    "HOME_Q",
    "TASKS",
    "CameraJitter",
    "CameraSpec",
    "CartesianPlanner",
    "EpisodeBagWriter",
    "IKSolver",
    "JointStateSample",
    "PlanningError",
    "Scene",
    "SceneConfig",
    "SceneLayout",
    "SimRig",
    "TaskPlan",
    "build_scene",
    "camera_from_mujoco",
    "home_configuration",
    "mujoco_camera_params",
    "plan_task",
    "record_episode",
    "record_episodes",
    "sample_layout",
]
