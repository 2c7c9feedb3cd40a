"""Round trip on a bag from the simulated rig (vap_ros.sim): clip frames equal the recorded
frames bit for bit (read back with a second, independent MCAP reader), and the clips' prompt
keypoints land on the simulator's ground truth: marker centroids rendered by MuJoCo at the
state of each frame, within 0.5 px."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.mujoco


@pytest.fixture(scope="module")
def sim_bag(tmp_path_factory):
    from vap_ros.sim import (
        DEFAULT_CAMERAS,
        SceneConfig,
        SimRig,
        home_configuration,
        plan_task,
        record_episode,
    )

    cfg = SceneConfig(width=192, height=144, cameras=DEFAULT_CAMERAS[:2], objects=(1, 1),
                      randomize_cameras=True, msaa_samples=0, camera_hz=10, state_hz=100)
    rng = np.random.default_rng([3, 0])
    truth: dict[int, dict[str, dict[str, np.ndarray]]] = {}
    path = tmp_path_factory.mktemp("simbag") / "episode"
    with SimRig.from_config(cfg, rng) as rig:
        q0 = home_configuration(rng)
        rig.reset(q0)
        task = plan_task("reach", rig.scene.layout, rig.robot, rng, q0)
        frame = [0]

        def on_frame(_fraction):
            if frame[0] % 3 == 0:  # ground truth of every third frame (marker renders cost)
                truth[frame[0]] = {c: rig.marker_centroids(c) for c in rig.scene.camera_names}
            frame[0] += 1

        record_episode(rig, task.trajectory, path, on_step=on_frame)
        names = [n for n, _ in rig.scene.markers]
        radius_m = cfg.marker_radius_m
    return path, truth, names, radius_m


def _bag_images(path):
    """Images per topic in log-time order, decoded by the mcap package (not rosbags)."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    out: dict[str, list[np.ndarray]] = {}
    (mcap,) = path.glob("*.mcap")
    with mcap.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _, channel, _message, msg in reader.iter_decoded_messages(log_time_order=True):
            if channel.topic.endswith("/image_raw"):
                assert msg.encoding == "rgb8"
                img = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
                out.setdefault(channel.topic.split("/")[1], []).append(img)
    return out


def test_sim_bag_round_trip(sim_bag, tmp_path):
    from vap_ros.data import ClipDataset, build_dataset, load_rig_config
    from vap_ros.robot import SkeletonSpec

    path, truth, marker_names, radius_m = sim_bag
    d = load_rig_config("sim").to_dict()
    d["clip"] = {"frames": 6, "fps": 10, "stride": 3, "size": None}  # the recorded size
    m = build_dataset([path], tmp_path / "cache", d, progress=False)
    rep = m["report"]["bags"][0]
    assert rep["ok"], rep["error"]
    ds = ClipDataset(tmp_path / "cache", source="logged")
    assert len(ds) >= 3
    recorded = _bag_images(path)
    spec = SkeletonSpec.from_preset("panda")
    errs, frames_checked = [], 0
    for i in range(len(ds)):
        raw = ds.raw(i)
        for v, cam in enumerate(raw["meta"]["cameras"]):
            K = raw["camera_K"][v]
            for t, idx in enumerate(raw["image_index"][v]):
                np.testing.assert_array_equal(raw["video"][v, t], recorded[cam][idx])
                frames_checked += 1
                if idx not in truth:
                    continue
                for name in marker_names:
                    u, w = raw["keypoints_uv_logged"][v, t, spec.index(name)]
                    gt = truth[idx][cam][name]
                    # markers near the border are clipped: keep discs well inside the image
                    # (disc radius taken at 0.5 m, larger than at the cameras' real depth)
                    rad = K[0, 0] * radius_m / 0.5
                    if not np.all(np.isfinite(gt)) or not (
                            2 * rad < u < K[0, 2] * 2 - 2 * rad
                            and 2 * rad < w < K[1, 2] * 2 - 2 * rad):
                        continue
                    errs.append(float(np.hypot(u - gt[0], w - gt[1])))
    errs = np.asarray(errs)
    print(f"sim round trip: {frames_checked} frames bit-exact; {errs.size} keypoints vs "
          f"rendered markers: max {errs.max():.3f} px, median {np.median(errs):.3f} px")
    assert errs.size >= 20
    assert errs.max() < 0.5
