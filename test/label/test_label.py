"""The labeller: a bag's images -> end-effector trajectory (``vap_ros.label``), its training
data and its evaluation, on a short simulated episode. A trained model is replaced by an
*oracle* that answers ``label(video)`` with the true action images of the frames it is shown
(found by their pixels), so everything around the model (reading the bag without joint
states, windows, decoding across views, gap filling, JSON, scoring) is checked against the
logged FK."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vap_ros.errors import ConfigError, ModelError

pytestmark = pytest.mark.mujoco


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    from vap_ros.sim import SceneConfig, record_episodes

    out = tmp_path_factory.mktemp("label_sim") / "eps"
    cfg = SceneConfig(width=32, height=32, msaa_samples=0, objects=(1, 2))
    record_episodes(cfg, out, episodes=1, seed=5, tasks=("pick_place",))
    return out / "episode_0000"


@pytest.fixture(scope="module")
def joint_config():
    from vap_ros.model.config import load_preset

    return load_preset("tiny", conditioning="none", generate_actions="action_images")


class Oracle:
    """A stand-in for a trained joint model: the true action images of the frames shown."""

    def __init__(self, config, video: np.ndarray, acts: np.ndarray):
        self.config = config
        self.index = {video[v, f].tobytes(): (v, f) for v in range(video.shape[0])
                      for f in range(video.shape[1])}
        self.acts = acts
        self.calls = 0

    def label(self, video, steps=None, seed=0):
        self.calls += 1
        out = np.zeros_like(video)
        for k in range(video.shape[0]):
            for f in range(video.shape[1]):
                hit = self.index.get(video[k, f].tobytes())
                assert hit is not None, "the oracle was shown a frame the bag does not hold"
                out[k, f] = self.acts[hit]
        return out


@pytest.fixture(scope="module")
def oracle(episode, joint_config):
    from vap_ros.label.bag_video import read_bag_video
    from vap_ros.label.evaluate import truth_poses
    from vap_ros.prompts import ActionImageCodec

    c = joint_config
    bv = read_bag_video(episode, fps=c.fps, size=(c.height, c.width))
    truth, t_open = truth_poses(episode, bv.stamps_ns)
    acts = ActionImageCodec().encode(truth, t_open, bv.cameras)
    return Oracle(c, bv.video, acts), bv, truth, t_open


def test_read_bag_video_without_joint_states(oracle, episode):
    from vap_ros.label.bag_video import read_bag_video

    _, bv, _, _ = oracle
    assert bv.names == ["front", "left", "right"]
    n = bv.video.shape[1]
    assert bv.video.shape == (3, n, 32, 32, 3) and n > 10
    np.testing.assert_array_equal(np.diff(bv.stamps_ns), 200_000_000)  # 10 Hz -> 8 fps grid
    assert bv.cameras[0].width == 32 and bv.skipped == {
        "no image within 20 ms on every camera": 0}
    two = read_bag_video(episode, ["right", "front"], fps=8.0, size=(32, 32))
    np.testing.assert_array_equal(two.video, bv.video[[2, 0]])
    with pytest.raises(ConfigError, match=r"no camera 'wrist'; its cameras: \['front'"):
        read_bag_video(episode, ["front", "wrist"], fps=8.0, size=(32, 32))
    with pytest.raises(ConfigError, match="at least 2 different cameras"):
        read_bag_video(episode, ["front"], fps=8.0, size=(32, 32))


def test_windows_and_gap_filling():
    from vap_ros.label.labeller import fill_gaps, windows

    assert windows(5, 5) == [0]
    assert windows(12, 5) == [0, 5, 7]
    assert windows(15, 5) == [0, 5, 10]
    T = np.tile(np.eye(4), (5, 1, 1))
    T[:, 0, 3] = [0.0, np.nan, np.nan, 0.3, np.nan]
    T[1:3] = np.nan
    T[4] = np.nan
    valid = np.isfinite(T).all(axis=(1, 2))
    grip = np.array([True, False, False, False, False])
    filled, g = fill_gaps(T, grip, valid)
    np.testing.assert_allclose(filled[:, 0, 3], [0.0, 0.1, 0.2, 0.3, 0.3])
    assert np.isfinite(filled).all() and g.tolist() == [True, True, False, False, False]
    with pytest.raises(ModelError, match="in no frame"):
        fill_gaps(T, grip, np.zeros(5, bool))


def test_label_bag_recovers_the_logged_trajectory(oracle, episode, tmp_path):
    from scipy.spatial.transform import Rotation

    from vap_ros.label.evaluate import errors
    from vap_ros.label.labeller import label_bag

    model, bv, truth, t_open = oracle
    out = tmp_path / "traj.json"
    calls0 = model.calls  # the oracle is shared by the module's tests, in any order
    doc, labels, _ = label_bag(model, episode, ["front", "left", "right"], out=out)
    assert json.loads(out.read_text()) == doc
    n = bv.video.shape[1]
    assert model.calls - calls0 == -(-n // 5)  # windows of the model's 5 frames
    for key in ("stamps_ns", "ee_xyz_m", "ee_quat_xyzw", "gripper_width_m"):
        assert len(doc[key]) == n
    assert doc["stamps_ns"] == bv.stamps_ns.tolist()
    pos, rot = errors(labels.T_base_ee, truth)
    assert labels.valid.all() and pos.max() < 2e-3 and rot.max() < 3.0
    q = np.asarray(doc["ee_quat_xyzw"])
    np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), truth[:, :3, :3], atol=0.05)
    assert doc["gripper_open"] == t_open.tolist()
    assert set(doc["gripper_width_m"]) <= {0.0, 0.08} and t_open.any() and not t_open.all()


def test_the_models_axis_length_sets_the_codec(oracle, episode):
    """``action_axis_length_m`` of a model's config is the codec its action images are
    decoded with (labeller, policy) and its training clips are drawn with (``vap-ros
    train``: ``label.data.action_dataset``)."""
    from vap_ros.label import action_codec
    from vap_ros.label.data import model_value
    from vap_ros.label.evaluate import errors
    from vap_ros.label.labeller import label_video
    from vap_ros.model.config import load_preset
    from vap_ros.policy import ActionImagePolicy
    from vap_ros.prompts import ActionImageCodec
    from vap_ros.robot import RobotModel
    from vap_ros.train.config import load_train_config

    _, bv, truth, t_open = oracle
    long = load_preset("tiny", conditioning="none", generate_actions="action_images",
                       action_axis_length_m=0.25)
    assert action_codec(long).axis_length_m == 0.25
    assert action_codec(load_preset("tiny")).axis_length_m == 0.1  # the default
    model = Oracle(long, bv.video, ActionImageCodec(axis_length_m=0.25).encode(
        truth, t_open, bv.cameras))
    pos, rot = errors(label_video(model, bv.video, bv.cameras).T_base_ee, truth)
    assert pos.max() < 2e-3 and rot.max() < 3.0
    assert ActionImagePolicy(model, RobotModel.from_preset("panda")).codec.axis_length_m == 0.25
    cfg = load_train_config("small_joint", **{"model.overrides.action_axis_length_m": 0.2})
    assert model_value(cfg, "action_axis_length_m") == 0.2
    assert model_value(load_train_config("small_joint"), "action_axis_length_m") == 0.1
    with pytest.raises(ConfigError, match="action_axis_length_m"):
        load_preset("tiny", action_axis_length_m=0.0)


def test_label_bag_refuses_a_model_without_action_images(episode):
    from vap_ros.label.labeller import label_bag
    from vap_ros.model import WorldModel

    with pytest.raises(ModelError, match="generate_actions"):
        label_bag(WorldModel.from_preset("tiny", seed=0), episode)


def test_action_image_clips(episode, tmp_path):
    from vap_ros.data import build_dataset
    from vap_ros.data.config import load_rig_config
    from vap_ros.label import ActionImageClips, clip_cameras
    from vap_ros.prompts import ActionImageCodec

    cfg = load_rig_config("sim").to_dict()
    cfg["clip"] = {"frames": 5, "fps": 5, "stride": 3, "size": [32, 32]}
    build_dataset([episode], tmp_path / "cache", cfg, progress=False, alignment=False)
    ds = ActionImageClips(tmp_path / "cache")
    assert len(ds) >= 3
    item = ds[1]
    assert "prompts" not in item
    assert item["action_images"].shape == (3, 3, 5, 32, 32)
    assert item["goal"].shape == (3, 3, 1, 32, 32)
    u8 = np.round((item["action_images"].permute(0, 2, 3, 4, 1).numpy() + 1) * 127.5)
    cams = clip_cameras(item["camera_K"].numpy(), item["camera_T_cam_base"].numpy(), (32, 32))
    dec = ActionImageCodec().decode(u8.astype(np.uint8), cams)
    err = np.linalg.norm(dec.T_base_ee[:, :3, 3] - item["ee_poses"].numpy()[:, :3, 3], axis=1)
    assert err.max() < 2e-3  # the logged FK pose, drawn through each view's calibration
    last = max(range(len(ds.clips)), key=lambda i: ds.clips[i]["t1_ns"])
    goal = np.round((item["goal"][:, :, 0].permute(0, 2, 3, 1).numpy() + 1) * 127.5)
    np.testing.assert_array_equal(goal, ds.raw(last)["video"][:, -1])  # the episode's end
    pv = ActionImageClips(tmp_path / "cache", per_view=True)
    one = pv[3 * 1 + 2]  # view 2 of clip 1
    np.testing.assert_array_equal(one["action_images"][0], item["action_images"][2])
    np.testing.assert_array_equal(one["goal"][0], item["goal"][2])
    from vap_ros.label import JointStateClips, JointStateScale
    from vap_ros.robot import RobotModel

    js = JointStateClips(tmp_path / "cache", per_view=True)[3 * 1 + 2]
    np.testing.assert_array_equal(js["action_images"], one["action_images"])
    x = js["joint_states"].numpy()
    assert x.shape == (5, 8) and np.all(np.abs(x) <= 1.001)  # a logged width may pass its max
    robot = RobotModel.from_preset("panda")
    q, w = JointStateScale(robot).denormalise(x)
    np.testing.assert_allclose(robot.tcp_poses(q, w), item["ee_poses"].numpy(), atol=1e-4)
    # what `vap-ros train` trains a model with action_axis_length_m 0.25 on
    from vap_ros.label.data import action_dataset
    from vap_ros.train.config import load_train_config

    long = action_dataset(load_train_config(
        "small_joint", per_view=False, **{"model.overrides.action_axis_length_m": 0.25}),
        tmp_path / "cache")
    assert type(long) is ActionImageClips and long.codec.axis_length_m == 0.25
    la = np.round((long[1]["action_images"].permute(0, 2, 3, 4, 1).numpy() + 1) * 127.5)
    assert not np.array_equal(la, u8)  # the axis points drawn farther out
    dec = ActionImageCodec(axis_length_m=0.25).decode(la.astype(np.uint8), cams)
    err = np.linalg.norm(dec.T_base_ee[:, :3, 3] - item["ee_poses"].numpy()[:, :3, 3], axis=1)
    assert err.max() < 2e-3


def test_evaluate_labelling_and_the_cli(oracle, episode, tmp_path, monkeypatch):
    from vap_ros.cli import main
    from vap_ros.label.evaluate import MeanPose, evaluate_labelling

    model, _, truth, _ = oracle
    mean = np.eye(4)
    mean[:3, 3] = truth[:, :3, 3].mean(axis=0) + [0.05, 0.0, 0.0]
    rep = evaluate_labelling(model, {"fixed": [episode.parent]}, MeanPose(mean, True),
                             out=tmp_path / "ev", videos=1, progress=False)
    g = rep["groups"]["fixed"]
    assert g["episodes"] == 1 and not g["skipped"]
    assert g["model"]["position_mm_p90"] < 2.0 and g["model"]["gripper_accuracy"] == 1.0
    assert g["codec_floor"]["position_mm_p90"] < 2.0
    assert g["mean_pose"]["position_mm_median"] > 40.0
    for f in ("labelling.json", "table.txt", "videos/fixed_episode_0000.mp4",
              "videos/fixed_episode_0000_frames.png", "videos/fixed_episode_0000_xyz.png",
              "labels/fixed_episode_0000.json"):
        assert (tmp_path / "ev" / f).is_file(), f
    # the CLI: a model without action images is refused with one line
    assert main(["label", str(episode), "--model", "tiny",
                 "--out", str(tmp_path / "t.json")]) == 2
    import vap_ros.serve

    monkeypatch.setattr(vap_ros.serve, "load_world_model", lambda *a, **k: (model, "oracle"))
    assert main(["label", str(episode), "--camera", "front", "--camera", "left", "--model",
                 "oracle", "--out", str(tmp_path / "t.json"), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["cameras"] == ["front", "left"] and doc["model"] == "oracle"


class JointOracle:
    """A stand-in for a trained joint-state model: the true normalised joint states of the
    frames shown, one sequence per view."""

    def __init__(self, config, video: np.ndarray, joints: np.ndarray):
        self.config = config
        self.index = {video[0, f].tobytes(): f for f in range(video.shape[1])}
        self.joints = joints
        self.calls = 0

    def label(self, video, steps=None, seed=0):
        self.calls += 1
        rows = [self.index[video[0, f].tobytes()] for f in range(video.shape[1])]
        return np.repeat(self.joints[rows][None], video.shape[0], axis=0)


def test_label_bag_with_a_joint_state_model(episode, tmp_path):
    """A joint-state model's labels are FK of its joint sequence: fed the logged joints, the
    labeller returns the logged end-effector poses, widths and gripper states exactly."""
    from vap_ros.data.bag import BagReader
    from vap_ros.data.config import load_rig_config
    from vap_ros.data.recording import read_recording
    from vap_ros.label import JointStateScale
    from vap_ros.label.bag_video import read_bag_video
    from vap_ros.label.evaluate import errors, truth_poses
    from vap_ros.label.labeller import label_bag
    from vap_ros.model.config import load_preset
    from vap_ros.robot import RobotModel

    cfg = load_preset("tiny", conditioning="none", generate_actions="joint_states")
    bv = read_bag_video(episode, fps=cfg.fps, size=(cfg.height, cfg.width))
    robot = RobotModel.from_preset("panda")
    with BagReader(episode) as reader:
        rec = read_recording(reader, load_rig_config(None), robot)
    s = rec.logged.sample(np.asarray(bv.stamps_ns, np.int64))
    oracle = JointOracle(cfg, bv.video, JointStateScale(robot).normalise(s.positions,
                                                                         s.gripper_width_m))
    doc, labels, _ = label_bag(oracle, episode, out=tmp_path / "l.json")
    truth, t_open = truth_poses(episode, bv.stamps_ns)
    pos, rot = errors(labels.T_base_ee, truth)
    assert oracle.calls >= 2 and labels.valid.all()
    assert pos.max() < 1e-5 and rot.max() < 1e-3
    assert labels.gripper_open.tolist() == t_open.tolist() and t_open.any() and not t_open.all()
    np.testing.assert_allclose(doc["joint_positions_rad"], s.positions, atol=5e-5)  # float32
    assert doc["generate_actions"] == "joint_states"
    assert labels.action_images.shape == bv.video.shape
