"""The interface package builds and its messages serialise like any ROS 2 message."""

import pytest

pytestmark = pytest.mark.ros


def test_video_rollout_fields_and_serialisation():
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image
    from trajectory_msgs.msg import JointTrajectory

    from vap_ros_msgs.msg import VideoRollout

    m = VideoRollout()
    m.camera_name = "front"
    m.frames = [Image(height=1, width=1, encoding="rgb8", step=3, data=bytes([1, 2, 3]))]
    m.prompt_frames = list(m.frames)
    m.plan = JointTrajectory(joint_names=["panda_joint1"])
    m.model_id = "tiny@test"
    m.inference_time.sec = 2
    back = deserialize_message(serialize_message(m), VideoRollout)
    assert back.camera_name == "front" and bytes(back.frames[0].data) == bytes([1, 2, 3])
    assert back.plan.joint_names == ["panda_joint1"] and back.inference_time.sec == 2
    assert hasattr(back, "frame_time_offsets") and hasattr(back, "header")


def test_predict_rollout_action_type():
    from vap_ros_msgs.action import PredictRollout

    goal = PredictRollout.Goal()
    goal.cameras = ["front"]
    goal.seed = 3
    res = PredictRollout.Result()
    res.success = False
    res.message = "no image"
    assert goal.steps == 0 and res.rollouts == []
    assert hasattr(PredictRollout.Feedback(), "step")


def test_rank_plans_action_type():
    from sensor_msgs.msg import Image
    from trajectory_msgs.msg import JointTrajectory

    from vap_ros_msgs.action import RankPlans

    goal = RankPlans.Goal(plans=[JointTrajectory()] * 3, goal_cameras=["front"],
                          goal_images=[Image()])
    assert goal.cameras == [] and goal.seed == goal.steps == 0 and goal.return_rollouts is False
    res = RankPlans.Result(scores=[1.0, 3.0], ranking=[1, 0])
    assert list(res.ranking) == [1, 0] and list(res.psnr) == [] and res.rollouts == []
    fb = RankPlans.Feedback(stage="predicting", plan=1, plans=3)
    assert (fb.step, fb.steps, fb.elapsed_s) == (0, 0, 0.0)


def test_tf_message_available():
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    assert TFMessage(transforms=[TransformStamped()]).transforms[0].child_frame_id == ""
