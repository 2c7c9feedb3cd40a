"""The joint video + action-image model as a closed-loop policy on the simulated rig
(``rollout``: plan a chunk from images + joint state + goal images, decode, IK, run, repeat;
evaluation against the scripted planner and a random-target baseline). Imports MuJoCo."""

from vap_ros.policy.rollout import (
    ActionImagePolicy,
    PolicyScene,
    evaluate_policy,
    make_scene,
    run_policy,
    task_error,
)

__all__ = ["ActionImagePolicy", "PolicyScene", "evaluate_policy", "make_scene", "run_policy",
           "task_error"]
