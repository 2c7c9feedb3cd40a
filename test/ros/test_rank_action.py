"""The lookahead node's RankPlans action, over DDS against a probe robot, with the real tiny world
model (its ControlNet's zero projections opened, as a trained model's are, so that plans with
different motions get different videos and scores).

N plans -> N scores and a permutation, best first, exactly what ``rank_plans`` says on the same
inputs; the same seed gives the same ranking; each bad input ends the goal with one clear
message and the node goes on; cancel; a topic plan that comes in during a ranking gets its
rollout without waiting for the ranking, and the ranking comes out the same."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytestmark = pytest.mark.ros

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.parameter import Parameter

from vap_ros.data import messages
from vap_ros.ros import convert
from vap_ros.ros.lookahead_node import LookaheadNode
from vap_ros.ros.probe import HANG_S, Probe, wait_for
from vap_ros.serve.ranking import rank_order, rank_plans, rollout_length
from vap_ros_msgs.action import RankPlans
from vap_ros_msgs.msg import VideoRollout

STEPS = 2
CAMS = ("front", "side")
DELTAS = (0.3, -0.2, 0.1, 0.0)  # the plans' joint offsets (radians, every arm joint)


@pytest.fixture(scope="module")
def open_model(tiny_model):
    import torch

    wm = copy.deepcopy(tiny_model[0])
    with torch.no_grad():  # the prompt branch reaches the output, as in a trained model
        for proj in wm.denoiser.controlnet.zero_projs:
            proj.weight.normal_(0, 0.2, generator=torch.Generator().manual_seed(0))
    return wm


@pytest.fixture(scope="module")
def rig(ros, open_model):
    probe = ros.add(Probe(ros.context, cameras=CAMS, name="rank_probe"))
    node = ros.add(LookaheadNode(
        "rank_lookahead", context=ros.context,
        predictor_factory=lambda p: (open_model, "tiny:open-controlnet"),
        parameter_overrides=[Parameter("cameras", value=list(CAMS)),
                             Parameter("steps", value=STEPS),
                             Parameter("max_input_age_s", value=0.0),
                             Parameter("diagnostics_period_s", value=0.0)]))
    probe.collect(VideoRollout, "/lookahead/front/rollout")
    wait_for(lambda: all(node.inputs.image_count(c) > 0 and node.inputs.has_info(c)
                         for c in CAMS) and node.joints.latest is not None,
             what="inputs reaching the node")
    client = ActionClient(probe, RankPlans, "/lookahead/rank_plans")
    assert client.wait_for_server(timeout_sec=HANG_S)
    return probe, node, client


def goal_images(probe, cams=CAMS):
    """What each camera should see: the current image with a changed patch (the goal region)."""
    out = []
    for k, _ in enumerate(cams):
        img = probe.image.copy()
        img[10 + 8 * k:30 + 8 * k, 20:44] = (230, 200, 40)
        out.append(img)
    return out


def make_goal(probe, deltas=DELTAS, *, goal_cams=CAMS, images=None, **kw) -> RankPlans.Goal:
    images = goal_images(probe, goal_cams) if images is None else images
    plans = [probe.plan(duration_s=0.5 + 0.2 * i, delta=d) for i, d in enumerate(deltas)]
    kw.setdefault("steps", STEPS)
    return RankPlans.Goal(plans=plans, goal_cameras=list(goal_cams),
                          goal_images=[convert.image_msg(im) for im in images], **kw)


def rank(client, goal, *, cancel_at_plan: int | None = None):
    """→ (result, status, feedback messages); ``cancel_at_plan``: cancel once feedback says
    that plan is being predicted."""
    feedback: list = []
    sent = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
    handle = wait_for(sent.done, what="the goal to be accepted") and sent.result()
    assert handle.accepted, "goal rejected"
    if cancel_at_plan is not None:
        wait_for(lambda: any(f.plan >= cancel_at_plan and f.step >= 1 for f in feedback),
                 what=f"feedback of plan {cancel_at_plan}")
        handle.cancel_goal_async()
    done = handle.get_result_async()
    wait_for(done.done, what="the RankPlans result")
    return done.result().result, done.result().status, feedback


def test_ranking_equals_rank_plans(rig, open_model):
    """N = 4 plans: 4 scores per metric, a permutation best first, feedback per plan, and
    exactly ``rank_plans`` on the same images, cameras, plans and goals."""
    probe, node, client = rig
    goal = make_goal(probe, seed=5)
    result, status, feedback = rank(client, goal)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    N = len(DELTAS)
    assert len(result.scores) == len(result.psnr) == N
    assert sorted(result.ranking) == list(range(N))
    assert list(result.ranking) == rank_order(result.scores)
    assert len(set(np.round(result.scores, 6))) > 1  # the plans' predictions differ
    assert list(result.cameras) == list(CAMS) and not result.rollouts
    plans = [node.plan_from_msg(p) for p in goal.plans]
    assert result.frames == rollout_length(plans, open_model.config.fps)
    # feedback: inputs, then every plan in order with its denoising steps (all model calls)
    assert feedback[0].stage == "waiting_for_inputs"
    predicting = [f for f in feedback if f.stage == "predicting"]
    assert sorted({f.plan for f in predicting}) == list(range(N))
    assert [f.plan for f in predicting] == sorted(f.plan for f in predicting)
    calls = node.core.model_calls(result.frames)
    assert all(f.plans == N and f.steps == STEPS * calls for f in feedback)
    assert max(f.step for f in predicting) == STEPS * calls
    # the library on the same inputs (the probe streams one constant image per camera)
    direct = rank_plans(open_model, [probe.image] * len(CAMS), node.inputs.cameras(CAMS), plans,
                        goal_images(probe), renderer=node.core.renderer, steps=STEPS, seed=5)
    np.testing.assert_array_equal(result.scores, direct.scores["region"])
    np.testing.assert_array_equal(result.psnr, direct.scores["psnr"])
    assert list(result.ranking) == direct.ranking


def test_same_seed_same_ranking_and_rollouts(rig, open_model):
    """The same seed gives the same scores; another seed other scores. ``return_rollouts``:
    one VideoRollout per plan and ranked camera (plan-major), ending in the scored frame; a goal
    image for a configured camera that is not ranked is ignored."""
    probe, node, client = rig
    goal = make_goal(probe, DELTAS[:3], seed=2, cameras=["side"])
    a, b = rank(client, goal)[0], rank(client, goal)[0]
    goal.seed = 3
    c = rank(client, goal)[0]
    goal.seed, goal.return_rollouts = 2, True
    d = rank(client, goal)[0]
    assert a.success and b.success and c.success and d.success, (a.message, c.message)
    assert list(a.scores) == list(b.scores) == list(d.scores) and a.ranking == b.ranking
    assert list(a.scores) != list(c.scores)
    assert list(a.cameras) == ["side"] and not a.rollouts and len(d.rollouts) == 3
    cfg = open_model.config
    for k, r in enumerate(d.rollouts):
        assert r.camera_name == "side" and r.header.frame_id == "side_optical_frame"
        assert len(r.frames) == len(r.prompt_frames) == d.frames
        assert list(r.plan.joint_names) == list(goal.plans[k].joint_names)
        assert r.model_id == "tiny:open-controlnet"
        frames, prompts, offsets = messages.video_from_rollout(r)
        assert frames.shape == (d.frames, cfg.height, cfg.width, 3)
        np.testing.assert_array_equal(offsets, np.round(np.arange(d.frames) * 1e9 / cfg.fps))
        assert prompts[-1].max() > 0  # the skeleton is drawn
    # the scores are those of the returned videos' final frames
    direct = rank_plans(open_model, [probe.image], node.inputs.cameras(["side"]),
                        [node.plan_from_msg(p) for p in goal.plans],
                        goal_images(probe)[1:], renderer=node.core.renderer, steps=STEPS,
                        seed=2, keep_videos=True)
    for k, r in enumerate(d.rollouts):
        np.testing.assert_array_equal(messages.video_from_rollout(r)[0], direct.videos[k, 0])


def _bad_joint(probe):
    goal = make_goal(probe, DELTAS[:3])
    goal.plans[1].joint_names[2] = "joint_x"
    return goal


def _small_goal(probe):
    images = goal_images(probe)
    images[1] = images[1][:24, :32]
    return make_goal(probe, DELTAS[:3], images=images)


def _doubled(probe):
    front, side = goal_images(probe)
    return make_goal(probe, DELTAS[:3], goal_cams=("side", "front", "side"),
                     images=[side, front, side])


@pytest.mark.parametrize("case,make,text", [
    ("no plans", lambda p: make_goal(p, ()),
     "no plans to rank (expected at least one trajectory_msgs/JointTrajectory in plans)"),
    ("bad joint", _bad_joint, "plans[1]: unknown joint names ['joint_x']"),
    ("goal size", _small_goal,
     "goal_images[1] (camera 'side') is 32x24, expected 64x48 (the camera's CameraInfo size)"),
    ("unknown camera", lambda p: make_goal(p, DELTAS[:3], cameras=["front", "back"]),
     "unknown cameras ['back']; configured: ['front', 'side']"),
    ("goal of unknown camera",
     lambda p: make_goal(p, DELTAS[:3], goal_cams=("front", "back")),
     "goal_cameras[1]: unknown camera 'back'; configured: ['front', 'side']"),
    ("missing goal", lambda p: make_goal(p, DELTAS[:3], goal_cams=("front",)),
     "no goal image for cameras ['side'] (expected one per ranked camera ['front', 'side'] "
     "in goal_cameras/goal_images)"),
    ("doubled goal", _doubled,
     "goal_cameras[2]: a second goal image for camera 'side' (expected one per camera)"),
    ("unpaired", lambda p: make_goal(p, DELTAS[:3], goal_cams=CAMS,
                                     images=goal_images(p)[:1]),
     "goal_cameras has 2 names for 1 goal_images (expected one camera name per goal image)"),
])
def test_bad_input_aborts_with_one_clear_message(rig, case, make, text):
    probe, node, client = rig
    result, status, _ = rank(client, make(probe))
    assert status == GoalStatus.STATUS_ABORTED and not result.success
    assert text in result.message, result.message
    assert not result.scores and not result.ranking
    wait_for(lambda: node.errors.seen(text) and probe.logged(text),
             what=f"a log line containing {text!r}")


def test_cancel_then_rank_again(rig):
    """Cancelled while the second plan is predicted: no scores; the next goal succeeds."""
    probe, _node, client = rig
    goal = make_goal(probe, DELTAS[:3], steps=30)
    result, status, feedback = rank(client, goal, cancel_at_plan=1)
    assert status == GoalStatus.STATUS_CANCELED and not result.success
    assert "cancelled" in result.message and not result.scores and not result.ranking
    assert max(f.plan for f in feedback) <= 2
    result, status, _ = rank(client, make_goal(probe, DELTAS[:3]))
    assert status == GoalStatus.STATUS_SUCCEEDED and len(result.scores) == 3


def test_topic_plan_does_not_wait_for_a_ranking(rig):
    """A plan published while the node ranks gets its rollout before the ranking ends (the
    ranking gives the model way between two denoising steps and predicts that plan again),
    and the ranking is the same as one that ran alone."""
    probe, _node, client = rig
    goal = make_goal(probe, DELTAS[:3], steps=8, seed=4)
    alone = rank(client, goal)[0]
    wait_for(lambda: probe.pub_plan.get_subscription_count() > 0, what="the plan subscription")
    rollouts = probe.received["/lookahead/front/rollout"]
    n0 = len(rollouts)
    feedback: list = []
    sent = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
    handle = wait_for(sent.done, what="the goal to be accepted") and sent.result()
    done = handle.get_result_async()
    wait_for(lambda: any(f.stage == "predicting" and f.step >= 1 for f in feedback),
             what="the ranking predicting")
    probe.pub_plan.publish(probe.plan())
    wait_for(lambda: len(rollouts) > n0 or done.done(), what="the plan's rollout")
    assert len(rollouts) > n0 and not done.done()  # the rollout came first
    wait_for(done.done, what="the ranking")
    shared = done.result().result
    assert alone.success and shared.success, shared.message
    assert list(shared.scores) == list(alone.scores) and shared.ranking == alone.ranking
