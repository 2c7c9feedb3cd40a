"""The joint model as a policy on the simulated rig (``vap_ros.policy``). A trained model is
replaced by a fake whose action images show the end effector at the reach target: decoding
across views, IK, timing within the velocity limits, the closed loop and the success measure
are then checked on a real scene."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vap_ros.errors import ConfigError

pytestmark = pytest.mark.mujoco


class GoToTarget:
    """predict_joint -> action images of the tool at ``target`` (top-down) in every frame."""

    def __init__(self, config, cameras, target):
        from vap_ros.prompts import ActionImageCodec
        from vap_ros.sim.ik import top_down

        self.config = config
        T = top_down(np.asarray(target), 0.0)
        self.acts = ActionImageCodec().encode(np.repeat(T[None], config.num_frames, 0),
                                              np.ones(config.num_frames, bool), cameras)
        self.calls = 0

    def predict_joint(self, images, action_state, goal, steps=None, seed=0, **kw):
        self.calls += 1
        self.kwargs = kw
        assert images.shape == goal.shape == action_state.shape
        return np.repeat(images[:, None], self.config.num_frames, 1), self.acts.copy()


@pytest.fixture(scope="module")
def scene():
    from vap_ros.policy import make_scene
    from vap_ros.policy.rollout import run_scripted

    s = make_scene("reach", 3001, 0, size=32)
    assert run_scripted(s) < 0.01  # the scripted plan reaches its target
    assert s.goal_images.shape == (3, 32, 32, 3)
    return s


def test_policy_closes_the_loop_to_the_decoded_target(scene):
    from vap_ros.model.config import load_preset
    from vap_ros.policy import ActionImagePolicy, run_policy
    from vap_ros.policy.rollout import _rig
    from vap_ros.robot import RobotModel

    cfg = load_preset("tiny", conditioning="none", generate_actions="action_images")
    with _rig(scene) as rig:
        cams = rig.cameras()
    fake = GoToTarget(cfg, cams, scene.info["target_m"])
    policy = ActionImagePolicy(fake, RobotModel.from_preset("panda"))
    res = run_policy(policy, scene, chunks=2, record=True)
    assert fake.calls == 2 and res["triangulated"] == 1.0 and fake.kwargs == {}
    assert res["success"] and res["error_m"] < 0.01, res["error_m"]
    assert len(res["frames"]) == 2 and res["frames"][0].shape == (3, 32, 32, 3)
    guided = ActionImagePolicy(fake, RobotModel.from_preset("panda"), guidance_scale=4.0)
    run_policy(guided, scene, chunks=1)
    assert fake.kwargs == {"guidance_scale": 4.0}  # towards the goal images
    with pytest.raises(ConfigError, match="guidance_scale"):
        ActionImagePolicy(fake, RobotModel.from_preset("panda"), guidance_scale=0.5)


class GoToJoints:
    """A joint-state model's predict_joint -> the joints of the tool at ``target`` (IK) in
    every frame after the first, normalised, the same for every view."""

    def __init__(self, config, robot, target):
        from vap_ros.label import JointStateScale
        from vap_ros.sim.ik import IKSolver, top_down
        from vap_ros.sim.tasks import HOME_Q

        self.config = config
        q = IKSolver(robot, HOME_Q).solve(top_down(np.asarray(target), 0.0), HOME_Q)
        self.scale = JointStateScale(robot)
        self.x = self.scale.normalise(q, 0.08)
        self.calls = 0

    def predict_joint(self, images, action_state, goal, steps=None, seed=0, joint_state=None):
        self.calls += 1
        assert images.shape == goal.shape == action_state.shape and joint_state.shape == (8,)
        seq = np.repeat(self.x[None], self.config.num_frames, 0)
        seq[0] = joint_state
        return (np.repeat(images[:, None], self.config.num_frames, 1),
                np.repeat(seq[None], images.shape[0], 0))


def test_joint_state_policy_runs_the_generated_joints(scene):
    """The action head's joint sequence is the plan itself (no decoding, no IK)."""
    from vap_ros.model.config import load_preset
    from vap_ros.policy import ActionImagePolicy, run_policy
    from vap_ros.robot import RobotModel

    cfg = load_preset("tiny", conditioning="none", generate_actions="joint_states")
    robot = RobotModel.from_preset("panda")
    fake = GoToJoints(cfg, robot, scene.info["target_m"])
    policy = ActionImagePolicy(fake, robot)
    res = run_policy(policy, scene, chunks=2, record=True)
    assert fake.calls == 2 and res["triangulated"] == 1.0 and res["rejected_chunks"] == 0
    assert res["success"] and res["error_m"] < 0.01, res["error_m"]
    assert res["action_images"][0].shape == (3, 5, 32, 32, 3)


def test_policy_refuses_a_model_without_action_images():
    from vap_ros.model import WorldModel
    from vap_ros.policy import ActionImagePolicy, make_scene
    from vap_ros.robot import RobotModel

    with pytest.raises(ConfigError, match="generate_actions"):
        ActionImagePolicy(WorldModel.from_preset("tiny", seed=0), RobotModel.from_preset("panda"))
    with pytest.raises(ConfigError, match="poke"):
        make_scene("poke", 1, 0)


def test_policy_eval_cli(tmp_path, capsys):
    from vap_ros.cli import main
    from vap_ros.model import WorldModel

    WorldModel.from_preset("tiny", seed=0, conditioning="none",
                           generate_actions="action_images").save_pretrained(tmp_path / "m")
    assert main(["policy", "eval", "--model", str(tmp_path / "m"), "--task", "reach",
                 "--episodes", "1", "--chunks", "1", "--steps", "2", "--no-progress",
                 "--json", str(tmp_path / "r.json")]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"task", "episodes", "success_rate", "mean_final_error_m"} <= set(printed)
    assert printed["baselines"]["scripted"]["success_rate"] == 1.0
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["episodes"] == 1 and len(saved["per_episode_error_m"]["policy"]) == 1


class LabelsTarget:
    """label(clip) -> action images of the tool at ``target`` in every frame; records the
    clips it was given. predict_joint must not be called by the goal planner."""

    def __init__(self, config, cameras, target, blank=False):
        from vap_ros.prompts import ActionImageCodec
        from vap_ros.sim.ik import top_down

        self.config = config
        T = top_down(np.asarray(target), 0.0)
        self.acts = ActionImageCodec().encode(np.repeat(T[None], config.num_frames, 0),
                                              np.ones(config.num_frames, bool), cameras)
        if blank:  # nothing a decoder can find
            self.acts[:] = 0
        self.clips: list = []

    def label(self, video, steps=None, seed=0):
        self.clips.append((video, steps, seed))
        return self.acts.copy()

    def predict_joint(self, *a, **k):
        raise AssertionError("the goal planner generates no frames")


def test_goal_planner_moves_the_tool_to_the_labelled_goal(scene):
    """The goal images' label is the target; the tool goes there at the planner's speed,
    and the goal is labelled once per goal (label_seeds draws of a still clip)."""
    from vap_ros.model.config import load_preset
    from vap_ros.policy import ActionImagePolicy, run_policy
    from vap_ros.policy.rollout import _rig
    from vap_ros.robot import RobotModel

    cfg = load_preset("tiny", conditioning="none", generate_actions="action_images")
    with _rig(scene) as rig:
        cams = rig.cameras()
        start = rig.robot.tcp_poses(rig.arm_q[None], np.array([rig.gripper_width_m]))[0]
    target = np.asarray(scene.info["target_m"])
    fake = LabelsTarget(cfg, cams, target)
    robot = RobotModel.from_preset("panda")
    slow = ActionImagePolicy(fake, robot, planner="goal", speed_m_s=0.02, label_seeds=3)
    one = run_policy(slow, scene, chunks=1, record=True)
    chunk_s = (cfg.num_frames - 1) / cfg.fps
    moved = np.linalg.norm(target - start[:3, 3]) - one["error_m"]
    assert 0.5 * 0.02 * chunk_s < moved <= 0.02 * chunk_s + 0.005, moved  # the speed cap
    assert len(fake.clips) == 3 and {c[2] for c in fake.clips} == {0, 1000, 2000}
    clip = fake.clips[0][0]
    assert clip.shape == (3, cfg.num_frames, 32, 32, 3)
    assert (clip == scene.goal_images[:, None]).all()  # the goal, still
    fake.clips.clear()
    policy = ActionImagePolicy(fake, robot, planner="goal", speed_m_s=0.3, label_seeds=2)
    res = run_policy(policy, scene, chunks=3)
    assert len(fake.clips) == 2  # labelled once, re-planned from the state every chunk
    assert res["success"] and res["error_m"] < 0.01, res["error_m"]
    assert res["rejected_chunks"] == 0 and res["triangulated"] == 1.0


def test_goal_planner_holds_when_the_goal_is_not_found(scene):
    from vap_ros.model.config import load_preset
    from vap_ros.policy import ActionImagePolicy, run_policy
    from vap_ros.policy.rollout import _rig
    from vap_ros.robot import RobotModel

    cfg = load_preset("tiny", conditioning="none", generate_actions="action_images")
    with _rig(scene) as rig:
        cams = rig.cameras()
        start = rig.robot.tcp_poses(rig.arm_q[None], np.array([rig.gripper_width_m]))[0]
    fake = LabelsTarget(cfg, cams, scene.info["target_m"], blank=True)
    robot = RobotModel.from_preset("panda")
    res = run_policy(ActionImagePolicy(fake, robot, planner="goal"), scene, chunks=1)
    assert res["triangulated"] == 0.0
    still = np.linalg.norm(np.asarray(scene.info["target_m"]) - start[:3, 3])
    assert abs(res["error_m"] - still) < 0.005  # held where it was
    with pytest.raises(ConfigError, match="planner"):
        ActionImagePolicy(fake, robot, planner="dream")
    with pytest.raises(ConfigError, match="label_seeds"):
        ActionImagePolicy(fake, robot, planner="goal", label_seeds=0)
