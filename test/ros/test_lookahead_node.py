"""Lookahead node with the real tiny world model, spun over DDS against a probe robot.

A plan → one VideoRollout per camera (frame count, size, stamps, plan); the action answers the
same for the same seed; every bad input leaves the node alive and logging one clear line
(checked on /rosout)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ros

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, JointState

from vap_ros.data import messages
from vap_ros.ros import convert
from vap_ros.ros.lookahead_node import LookaheadNode
from vap_ros.ros.probe import ARM, GRIP, HANG_S, Probe, predict, wait_for
from vap_ros_msgs.action import PredictRollout
from vap_ros_msgs.msg import VideoRollout

STEPS = 2


@pytest.fixture(scope="module")
def rig(ros, tiny_model):
    probe = ros.add(Probe(ros.context, cameras=("front", "side"), rate_hz=30.0))
    probe.publish_static()
    node = ros.add(LookaheadNode(
        context=ros.context, predictor_factory=lambda p: tiny_model,
        parameter_overrides=[Parameter("cameras", value=["front", "side"]),
                             Parameter("steps", value=STEPS),
                             # image age is checked by test_stale_images_refused only: a
                             # loaded machine must not turn other tests into stale refusals
                             Parameter("max_input_age_s", value=0.0),
                             Parameter("diagnostics_period_s", value=0.5)]))
    for cam in ("front", "side"):
        probe.collect(VideoRollout, f"/lookahead/{cam}/rollout")
        probe.collect(Image, f"/lookahead/{cam}/predicted")
    wait_for(lambda: all(node.inputs.image_count(c) > 0 and node.inputs.has_info(c)
                         for c in ("front", "side")) and node.joints.latest is not None,
             what="inputs reaching the node")
    client = ActionClient(probe, PredictRollout, "/lookahead/predict_rollout")
    assert client.wait_for_server(timeout_sec=HANG_S)
    return probe, node, client


def rollouts(probe, cam="front"):
    return probe.received[f"/lookahead/{cam}/rollout"]


def send_plan_and_wait(probe, node, **kw):
    n0 = len(rollouts(probe))
    plan = probe.plan(**kw)
    probe.pub_plan.publish(plan)
    wait_for(lambda: len(rollouts(probe)) > n0 and len(rollouts(probe, "side")) > n0,
             what="a rollout per camera")
    return plan, rollouts(probe)[-1], rollouts(probe, "side")[-1]


def call(client, goal):
    return predict(client, goal)[0]


def test_plan_to_rollout(rig, tiny_model):
    probe, node, _ = rig
    cfg = tiny_model[0].config
    plan, front, side = send_plan_and_wait(probe, node)
    T = cfg.num_frames
    # All views' frames share one time base: the newest conditioning image's stamp (t_ref).
    # Each rollout's offsets are relative to its own image stamp, so a view whose newest image
    # is older than t_ref starts at t_ref - its stamp (cameras are not triggered together).
    t_ref = max(messages.stamp_ns(m.header.stamp) for m in (front, side))
    for m, cam in ((front, "front"), (side, "side")):
        assert m.camera_name == cam and m.header.frame_id == f"{cam}_optical_frame"
        assert len(m.frames) == len(m.prompt_frames) == len(m.frame_time_offsets) == T
        assert (m.frames[0].height, m.frames[0].width, m.frames[0].encoding) == (
            cfg.height, cfg.width, "rgb8")
        frames, prompts, offsets = messages.video_from_rollout(m)
        lag = t_ref - messages.stamp_ns(m.header.stamp)
        assert 0 <= lag < 1e9
        np.testing.assert_array_equal(offsets, lag + np.round(np.arange(T) * 1e9 / cfg.fps))
        assert prompts[1:].max() > 0  # the skeleton is drawn
        assert list(m.plan.joint_names) == list(plan.joint_names)
        assert len(m.plan.points) == len(plan.points)
        assert m.model_id.startswith("tiny")
        assert m.inference_time.sec > 0 or m.inference_time.nanosec > 0
        stamp = messages.stamp_ns(m.header.stamp)
        assert messages.stamp_ns(m.frames[2].header.stamp) == stamp + offsets[2]
        assert 0 < probe.now_ns() - stamp < 60e9  # a recent image stamp
    # frame 0 is the conditioning image itself (resized to the model's size)
    assert abs(frames[0].astype(int).mean() - probe.image.mean()) < 20
    # replay of the predicted frames at the model's fps
    wait_for(lambda: len(probe.received["/lookahead/front/predicted"]) >= 2,
             what="replayed predicted frames")
    assert node.stats.overheads_s and node.stats.overhead_s > 0  # measured (bench node reports it)


def test_max_rollout_s_publishes_the_whole_plan_as_one_rollout(rig, tiny_model):
    """With ``max_rollout_s`` set, a plan of about three clips gives one VideoRollout per camera
    that covers it from the conditioning image to the plan's end (frames, prompt frames and
    offsets 1/fps apart on one time base); the default stays one clip."""
    probe, node, _ = rig
    cfg = tiny_model[0].config
    T, frame_ns = cfg.num_frames, 1e9 / cfg.fps
    assert node.set_parameters([Parameter("max_rollout_s", value=10.0)])[0].successful
    try:
        plan, front, side = send_plan_and_wait(probe, node, duration_s=2.0, points=9)
    finally:
        node.set_parameters([Parameter("max_rollout_s", value=0.0)])
    t_ref = max(messages.stamp_ns(m.header.stamp) for m in (front, side))
    end = messages.stamp_ns(front.plan.header.stamp) + 2_000_000_000  # the plan's start + 2 s
    n = len(front.frames)
    assert n > 2 * T - 1  # more than two clips (the model sampled at least three)
    assert (n - 2) * frame_ns < end - t_ref <= (n - 1) * frame_ns + 1  # to the plan's end
    for m in (front, side):
        frames, prompts, offsets = messages.video_from_rollout(m)
        assert frames.shape == prompts.shape == (n, cfg.height, cfg.width, 3)
        lag = t_ref - messages.stamp_ns(m.header.stamp)
        np.testing.assert_array_equal(offsets, lag + np.round(np.arange(n) * frame_ns))
        assert (np.diff(offsets) > 0).all()
        assert not np.array_equal(prompts[T], prompts[-1])  # the arm still moves after a clip
        assert len(m.plan.points) == len(plan.points) == 9
    assert abs(frames[0].astype(int).mean() - probe.image.mean()) < 20
    _, one, _ = send_plan_and_wait(probe, node, duration_s=2.0, points=9)
    assert len(one.frames) == T  # back to the default: one clip


def test_action_feedback_and_cancel(rig):
    probe, _node, client = rig
    goal = PredictRollout.Goal(plan=probe.plan(), seed=1, steps=STEPS)
    result, status, feedback = predict(client, goal)
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success
    assert next(f.stage for f in feedback) == "waiting_for_inputs"
    assert [f.step for f in feedback if f.stage == "predicting"] == list(range(1, STEPS + 1))
    assert all(f.steps == STEPS for f in feedback)
    # cancelled after its first denoising step: no rollouts, the node goes on
    goal.steps = 50
    result, status, feedback = predict(client, goal, cancel_at_step=1)
    assert status == GoalStatus.STATUS_CANCELED and not result.success
    assert "cancelled" in result.message and not result.rollouts
    assert max(f.step for f in feedback if f.stage == "predicting") < 50
    goal.steps = STEPS
    assert predict(client, goal)[1] == GoalStatus.STATUS_SUCCEEDED


def test_action_same_seed_same_video(rig):
    probe, _node, client = rig
    probe.stream = False  # freeze the conditioning images
    try:
        req = PredictRollout.Goal(plan=probe.plan(), seed=7, cameras=["front"])
        a, b = call(client, req), call(client, req)
        req.seed = 8
        c = call(client, req)
    finally:
        probe.stream = True
    assert a.success and b.success and c.success, (a.message, b.message, c.message)
    assert [r.camera_name for r in a.rollouts] == ["front"]
    fa, pa, oa = messages.video_from_rollout(a.rollouts[0])
    fb, pb, ob = messages.video_from_rollout(b.rollouts[0])
    fc, _, _ = messages.video_from_rollout(c.rollouts[0])
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(oa, ob)
    assert not np.array_equal(fa[1:], fc[1:])  # another seed, another sample


def test_action_errors(rig):
    probe, _node, client = rig
    r = call(client, PredictRollout.Goal(plan=probe.plan(), cameras=["nope"]))
    assert not r.success and "unknown cameras ['nope']" in r.message
    bad = probe.plan()
    bad.joint_names[0] = "elbow"
    r = call(client, PredictRollout.Goal(plan=bad))
    assert not r.success and "elbow" in r.message


def expect_log(probe, node, text):
    wait_for(lambda: node.errors.seen(text) and probe.logged(text),
             what=f"a log line containing {text!r}")


def still_alive(probe, node):
    """The node keeps working: once fresh inputs are cached again, a plan gives rollouts."""
    wait_for(lambda: node.joints.latest is not None and all(
        probe.now_ns() - (node.inputs.image_stamp_ns(c) or 0) < 0.5e9
        for c in ("front", "side")), what="fresh inputs cached again")
    send_plan_and_wait(probe, node)


@pytest.mark.parametrize("case,text", [
    ("nan", "non-finite positions (NaN/inf) for joints ['panda_joint3']"),
    ("unknown", "unknown joint names ['wrist_roll']"),
    ("missing", "missing joints ['panda_joint7']"),
    ("count", "JointState has 9 names but 8 positions"),
])
def test_bad_joint_states(rig, case, text):
    probe, node, _ = rig
    names, q = list(ARM + GRIP), list(probe.q) + [0.02, 0.02]
    if case == "nan":
        q[2] = float("nan")
    elif case == "unknown":
        names[6] = "wrist_roll"
    elif case == "missing":
        names, q = names[:6], q[:6]
    else:
        q = q[:8]
    msg = JointState(name=names, position=q)
    msg.header.stamp = convert.stamp_msg(probe.now_ns())
    probe.pub_js.publish(msg)
    expect_log(probe, node, text)
    still_alive(probe, node)


def inject(probe, node, pub, make, text):
    """Images are latest-only (depth 1): a newer good image may replace a bad one before the
    node takes it, so send the bad one until the node has logged it."""
    def sent_and_logged():
        pub.publish(make())
        return node.errors.seen(text) and probe.logged(text)

    wait_for(sent_and_logged, what=f"a log line containing {text!r}", period=0.05)


def test_bad_images(rig):
    probe, node, _ = rig

    def weird():
        m = convert.image_msg(probe.image, probe.now_ns(), "front_optical_frame")
        m.encoding = "yuv422_weird"
        return m

    inject(probe, node, probe.pub_img["front"], weird, "unknown encoding 'yuv422_weird'")
    inject(probe, node, probe.pub_img["side"],
           lambda: convert.image_msg(probe.image[:24, :32], probe.now_ns(), "side_optical_frame"),
           "size 32x24 differs from its CameraInfo 64x48")
    still_alive(probe, node)


@pytest.mark.parametrize("case,text", [
    ("times", "trajectory times must increase strictly"),
    ("limits", "panda_joint4 = "),
    ("names", "unknown joint names ['joint_x']"),
])
def test_bad_plans(rig, case, text):
    probe, node, _ = rig
    plan = probe.plan()
    if case == "times":
        plan.points[3].time_from_start = plan.points[1].time_from_start
    elif case == "limits":
        plan.points[2].positions[3] = 1.5  # panda_joint4 must stay below about -0.07
    else:
        plan.joint_names[1] = "joint_x"
    n0 = len(rollouts(probe))
    probe.pub_plan.publish(plan)
    expect_log(probe, node, "plan rejected: ")
    expect_log(probe, node, text)
    assert len(rollouts(probe)) == n0
    still_alive(probe, node)


def test_time_jump_backwards_clears_caches(rig):
    probe, node, _ = rig
    msg = convert.joint_state_msg(ARM + GRIP, list(probe.q) + [0.02, 0.02],
                                  probe.now_ns() - 30 * 10**9)
    probe.pub_js.publish(msg)
    expect_log(probe, node, "time jumped backwards by")
    expect_log(probe, node, "cleared cached images, joint states and plans")
    assert node.stats.time_jumps >= 1
    still_alive(probe, node)


def test_stale_images_refused(rig):
    probe, node, _ = rig
    jumps = node.stats.time_jumps
    probe.stamp_offset_ns = -5 * 10**9  # the camera stalls: stamps 5 s old
    assert node.set_parameters([Parameter("max_input_age_s", value=1.0)])[0].successful
    try:
        wait_for(lambda: node.stats.time_jumps > jumps, what="the jump back to stale stamps")
        wait_for(lambda: all(probe.now_ns() - (node.inputs.image_stamp_ns(c) or 0) > 4e9
                             and node.inputs.image_stamp_ns(c) for c in ("front", "side")),
                 what="stale images cached")
        n0 = len(rollouts(probe))
        probe.pub_plan.publish(probe.plan())
        expect_log(probe, node, "s old (max_input_age_s 1): refused")
        assert len(rollouts(probe)) == n0
    finally:
        probe.stamp_offset_ns = 0
        node.set_parameters([Parameter("max_input_age_s", value=0.0)])
    still_alive(probe, node)


def late_node(ros, tiny_model, name, cameras, **params):
    """A lookahead node with its own plan topic and outputs, and a publisher for its plans
    (matched before returning, so no plan is lost to discovery)."""
    from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

    from vap_ros.ros.node_utils import reliable_qos

    overrides = [Parameter("cameras", value=list(cameras)), Parameter("steps", value=STEPS),
                 Parameter("plan_topic", value=f"/{name}/plans"),
                 Parameter("output_namespace", value=f"/{name}"),
                 Parameter("max_input_age_s", value=0.0)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    node = ros.add(LookaheadNode(name, context=ros.context,
                                 predictor_factory=lambda p: tiny_model,
                                 parameter_overrides=overrides))
    helper = ros.add(rclpy_node(ros, f"{name}_sender"))
    pub = helper.create_publisher(JointTrajectoryMsg, f"/{name}/plans", reliable_qos(5))
    got = []
    helper.create_subscription(VideoRollout, f"/{name}/{cameras[-1]}/rollout", got.append,
                               reliable_qos(5))
    wait_for(lambda: pub.get_subscription_count() > 0, what="the plan subscription")
    return node, helper, pub, got


def rclpy_node(ros, name):
    from rclpy.node import Node

    return Node(name, context=ros.context)


@pytest.mark.parametrize("last", ["tf_static", "image"])
def test_plan_before_its_inputs_runs_once_they_arrive(ros, tiny_model, last):
    """A plan published before /tf_static (or before the first image) is held, and gives a
    rollout as soon as the missing input arrives; nothing else is sent."""
    cam = f"late_{last}"
    robot = ros.add(Probe(ros.context, cameras=(cam,), info=False, name=f"probe_{cam}"))
    robot.stream = False  # nothing on the wire yet
    node, helper, pub, got = late_node(ros, tiny_model, f"lookahead_{cam}", [cam],
                                       startup_wait_s=120.0)
    try:
        pub.publish(robot.plan())  # before calibration, images and joint states
        wait_for(lambda: node.worker.held == 1, what="the plan held for its inputs")
        if last == "tf_static":  # CameraInfo, images and joint states stream; no /tf_static
            robot.info = True
            robot.stream = True
            wait_for(lambda: node.inputs.image_count(cam) and node.inputs.has_info(cam),
                     what="CameraInfo and images reaching the node")
        else:  # /tf_static and CameraInfo, no image yet
            robot.publish_static()
            wait_for(lambda: not node.inputs.missing([cam], images=False),
                     what="CameraInfo and the camera's /tf_static reaching the node")
        missing = node.inputs.missing([cam])
        assert len(missing) == 1 and cam in missing[0], missing
        assert not got and node.stats.rollouts.total == 0  # still held, not refused
        if last == "tf_static":
            robot.publish_static()
        else:
            robot.info = True
            robot.stream = True
        wait_for(lambda: got, what="the held plan's rollout")
        assert node.stats.plans == 1 and node.worker.refused == 0
        assert node.stats.sources == {"plan": 1}
    finally:
        ros.remove(node)
        ros.remove(helper)
        ros.remove(robot)


def test_plan_refused_when_calibration_never_comes(ros, tiny_model, rig):
    probe, _, _ = rig
    node, helper, pub, got = late_node(
        ros, tiny_model, "lookahead_no_info", ["front", "back"],
        image_topic="/front/image_raw",  # 'back' gets images, never a CameraInfo
        startup_wait_s=0.5)
    try:
        wait_for(lambda: node.inputs.image_count("back") > 0 and node.tf.frames(),
                 what="images for 'back' and /tf_static")
        pub.publish(probe.plan())
        text = ("plan rollout: refused after waiting 0.5 s (startup_wait_s) for its inputs; "
                "still missing: camera 'back': no CameraInfo received on /back/camera_info")
        expect_log(probe, node, text)
        assert node.worker.refused == 1 and not got
        # alive: CameraInfo arrives late and the next plan runs
        info = convert.camera_info_msg(probe.cams["front"])
        info.header.frame_id = "front_optical_frame"
        info_pub = helper.create_publisher(CameraInfo, "/back/camera_info", 1)
        wait_for(lambda: info_pub.get_subscription_count() > 0, what="back camera_info match")
        info_pub.publish(info)
        wait_for(lambda: node.inputs.has_info("back"), what="late CameraInfo")
        pub.publish(probe.plan())
        wait_for(lambda: got, what="a rollout after CameraInfo arrived")
    finally:
        ros.remove(node)
        ros.remove(helper)


def test_diagnostics(rig):
    from diagnostic_msgs.msg import DiagnosticArray

    probe, _node, _ = rig
    probe.collect(DiagnosticArray, "/diagnostics")
    msgs = wait_for(lambda: [m for m in probe.received["/diagnostics"]
                             if m.status and m.status[0].name.startswith("lookahead_node")],
                    what="lookahead diagnostics")
    values = {kv.key: kv.value for kv in msgs[-1].status[0].values}
    for key in ("rollout_rate_hz", "latency_ms", "inference_ms", "overhead_ms", "last_error",
                "image_rate_hz", "dropped_requests", "refused_stale"):
        assert key in values
    assert int(values["rollouts"]) >= 1


def test_compressed_images_and_hold_still_horizon(ros, tiny_model, rig):
    _probe, _, _ = rig
    cprobe = ros.add(Probe(ros.context, cameras=("wrist",), compressed=("wrist",),
                           rate_hz=15.0, name="probe_compressed"))
    node = ros.add(LookaheadNode(
        "lookahead_horizon", context=ros.context, predictor_factory=lambda p: tiny_model,
        parameter_overrides=[Parameter("cameras", value=["wrist"]),
                             Parameter("image_transport", value="compressed"),
                             Parameter("steps", value=STEPS),
                             Parameter("horizon_rate_hz", value=4.0),
                             Parameter("plan_topic", value="/no_plans_here"),
                             Parameter("output_namespace", value="/lookahead_c")]))
    try:
        cprobe.collect(VideoRollout, "/lookahead_c/wrist/rollout")
        got = wait_for(lambda: cprobe.received["/lookahead_c/wrist/rollout"],
                       what="hold-still rollouts from compressed images")
        m = got[0]
        frames, prompts, _ = messages.video_from_rollout(m)
        assert node.stats.sources.get("horizon", 0) >= 1
        assert len(m.plan.points) == len(m.frames)  # the held pose over the horizon
        np.testing.assert_allclose(m.plan.points[0].positions, cprobe.q, atol=1e-9)
        np.testing.assert_array_equal(prompts[0], prompts[-1])  # holding still
        assert abs(frames[0].astype(int).mean() - cprobe.image.mean()) < 20
    finally:
        ros.remove(node)
        ros.remove(cprobe)


def test_a_new_plan_preempts_a_running_horizon_rollout(rig):
    """A horizon rollout ("continue the plan / hold still") stops between denoising steps when
    a new plan is waiting, so the plan's own rollout does not wait a whole rollout."""
    probe, node, _ = rig
    before, n0 = node.preempted["horizon"], len(rollouts(probe))
    node.set_parameters([Parameter("steps", value=900)])  # a horizon rollout that takes long
    try:
        node._on_horizon()
        wait_for(lambda: not node.worker.idle and node.worker.pending is None,
                 what="the horizon rollout running")
    finally:
        node.set_parameters([Parameter("steps", value=STEPS)])  # read when a rollout starts
    plan, front, _side = send_plan_and_wait(probe, node)
    assert node.preempted["horizon"] == before + 1
    assert len(rollouts(probe)) == n0 + 1  # the plan's; the horizon one was never published
    assert len(front.plan.points) == len(plan.points)


def _start_slow_plan_rollout(probe, node):
    """Publish a plan whose rollout takes long (900 steps) and wait until it runs."""
    plans0 = node.stats.plans
    node.set_parameters([Parameter("steps", value=900)])
    try:
        probe.pub_plan.publish(probe.plan(points=5))
        wait_for(lambda: not node.worker.idle and node.worker.pending is None
                 and node.stats.plans > plans0, what="the older plan's rollout running")
    finally:
        node.set_parameters([Parameter("steps", value=STEPS)])  # read when a rollout starts


def test_a_newer_plan_supersedes_an_older_plans_rollout_that_would_make_it_late(rig):
    """A controller replaces a trajectory with a newer one. An older plan's rollout still
    running stops between denoising steps when finishing it would land the newer plan's
    rollout after that plan's end: only the newer plan's is published."""
    probe, node, _ = rig
    before, n0 = node.preempted["plan"], len(rollouts(probe))
    _start_slow_plan_rollout(probe, node)
    plan, front, side = send_plan_and_wait(probe, node, points=7)  # a 1 s plan
    assert node.preempted["plan"] == before + 1
    assert len(rollouts(probe)) == n0 + 1  # the newer plan's only
    assert len(front.plan.points) == len(side.plan.points) == len(plan.points) == 7


def test_an_older_plans_rollout_finishes_when_the_newer_plan_has_time(rig):
    """When the newer plan's rollout can wait for the older one and still land before the
    newer plan's end, the older plan's rollout is finished and published too."""
    probe, node, _ = rig
    before, n0 = node.preempted["plan"], len(rollouts(probe))
    _start_slow_plan_rollout(probe, node)
    probe.pub_plan.publish(probe.plan(duration_s=3600.0, points=7))  # an hour-long plan
    wait_for(lambda: len(rollouts(probe)) >= n0 + 2 and len(rollouts(probe, "side")) >= n0 + 2,
             what="both plans' rollouts")
    assert node.preempted["plan"] == before
    assert [len(m.plan.points) for m in rollouts(probe)[n0:n0 + 2]] == [5, 7]
