"""``vap-ros rank --bag``: plans from JSON and a goal image per camera on a synthetic bag's
scene, ranked with the tiny model; the CLI gives what the library gives, bad input is one
clear error before the model loads."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vap_ros.cli import main
from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag
from vap_ros.testing.rig import PANDA_HOME

JOINTS = [f"panda_joint{i}" for i in range(1, 8)]
SIZE = (48, 64)  # (H, W) of the bag's images


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rankbag")
    rig = SyntheticRig(default_cameras(size=SIZE), duration_s=1.0, camera_hz=10.0,
                       joint_hz=50.0)
    write_synthetic_bag(root / "bag", rig)
    home = [float(x) for x in PANDA_HOME]
    bent = list(home)
    bent[0] += 0.4
    bent[3] += 0.3
    doc = {"joint_names": JOINTS, "plans": [
        {"name": "stay", "points": [{"t": 0.0, "positions": home},
                                    {"t": 0.3, "positions": home}]},
        {"name": "turn", "points": [{"t": 0.3, "positions": bent}]},  # starts from the bag's q
        {"name": "grip", "points": [{"t": 0.0, "positions": home, "gripper_width_m": 0.08},
                                    {"t": 0.2, "positions": bent, "gripper_width_m": 0.0}]}]}
    (root / "plans.json").write_text(json.dumps(doc))
    goals = []
    for v, name in enumerate(("front", "left")):
        img = np.full(SIZE + (3,), 40 + 60 * v, np.uint8)
        img[10:30, 20:40] = (200, 30, 30)
        cv2.imwrite(str(root / f"{name}.png"), img)
        goals += ["--goal", f"{name}={root / f'{name}.png'}"]
    cv2.imwrite(str(root / "small.png"), np.zeros((10, 10, 3), np.uint8))
    return root, doc, goals


def _args(root, goals, out, *extra):
    return ["rank", "--bag", str(root / "bag"), "--at", "0.5", "--plans",
            str(root / "plans.json"), *goals, "--model", "tiny", "--steps", "1",
            "--out", str(out), "--no-progress", *extra]


def test_rank_bag_cli_matches_rank_plans(inputs, tmp_path, capsys):
    from vap_ros.robot import RobotModel
    from vap_ros.serve import load_world_model
    from vap_ros.serve.ranking import rank_plans
    from vap_ros.train import bag_ranking as rb

    root, _, goals = inputs
    out = tmp_path / "o"
    assert main(_args(root, goals, out, "--json")) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "ranking.json").read_text())
    assert printed == saved
    assert len(saved["plans"]) == 3 and sorted(saved["ranking"]) == [0, 1, 2]
    assert [p["name"] for p in saved["plans"]] == ["stay", "turn", "grip"]
    assert saved["cameras"] == ["front", "left"] and saved["metric"] == "region"
    assert saved["settings"]["steps"] == 1 and abs(saved["at_s"] - 0.5) < 1e-6
    assert all(t <= 0.5 + 1e-9 for t in saved["image_times_s"])
    assert (out / "candidates.png").stat().st_size > 0
    # the same inputs straight into the library
    scene = rb.read_bag_scene(root / "bag", at_s=0.5)
    robot = RobotModel.from_preset("panda")
    names, plans = rb.load_plans(root / "plans.json", robot, start_q=scene.q,
                                 start_width_m=scene.width_m)
    assert names == ["stay", "turn", "grip"]
    assert plans[1].stamps_ns[0] == 0 and np.allclose(plans[1].positions[0], scene.q)
    goal = rb.load_goal_images(rb.parse_goal_args(goals[1::2]), scene)
    model, _ = load_world_model("tiny", device="cpu", dtype="float32")
    res = rank_plans(model, scene.images, scene.cameras, plans, goal, steps=1, seed=0,
                     current_width_m=scene.width_m)
    assert res.ranking == saved["ranking"]
    assert np.allclose(res.scores["region"], [p["score"] for p in saved["plans"]], atol=1e-3)
    # the table, and no silent overwrite
    assert main(_args(root, goals, out, "--force")) == 0
    table = capsys.readouterr().out
    assert "rank  id  score" in table and "turn" in table
    assert main(_args(root, goals, out)) == 2
    assert "already holds ranking.json" in capsys.readouterr().err


def _bad_plans(root, plans):
    p = root / "bad.json"
    p.write_text(json.dumps({"joint_names": JOINTS, "plans": plans}))
    return str(p)


@pytest.mark.parametrize("case, message", [
    ("unknown joint", "plans[1] ('b'): trajectory joints"),
    ("times", "plans[0] ('a'): trajectory times must increase strictly"),
    ("limits", "plans[1] ('b'): point 0: panda_joint4"),
    ("not json", "is not JSON"),
    ("missing goal", "camera 'left' has no goal image"),
    ("goal size", "is 10x10, camera 'front''s images are 64x48"),
    ("goal camera", "goal for camera 'top', which is not ranked"),
    ("bad goal spec", "expected CAMERA=IMAGE.png"),
    ("unknown camera", "has no camera 'top'"),
    ("with sim-seed", "not allowed with argument"),
    ("task with bag", "--task is for --sim-seed scenes"),
    ("plans with sim", "--plans is for --bag scenes"),
    ("candidates with bag", "--candidates is for --sim-seed scenes"),
    ("tolerance with bag", "--tolerance-m is for --sim-seed scenes"),
])
def test_rank_bag_bad_input_is_one_clear_error(inputs, tmp_path, capsys, case, message):
    root, doc, goals = inputs
    home = [float(x) for x in PANDA_HOME]
    args = _args(root, goals, tmp_path / "o")
    plans_at = args.index("--plans") + 1
    if case == "unknown joint":
        args[plans_at] = _bad_plans(root, [
            doc["plans"][0], {"name": "b", "joint_names": JOINTS[:6] + ["elbow"],
                              "points": [{"t": 0.1, "positions": home}]}])
    elif case == "times":
        args[plans_at] = _bad_plans(root, [{"name": "a", "points": [
            {"t": 0.2, "positions": home}, {"t": 0.2, "positions": home}]}])
    elif case == "limits":
        far = list(home)
        far[3] = 5.0
        args[plans_at] = _bad_plans(root, [doc["plans"][0], {
            "name": "b", "points": [{"t": 0.0, "positions": far}]}])
    elif case == "not json":
        (root / "nj.json").write_text("{plans: ")
        args[plans_at] = str(root / "nj.json")
    elif case == "missing goal":
        i = args.index(goals[3])
        del args[i - 1:i + 1]
    elif case == "goal size":
        args[args.index(goals[1])] = f"front={root / 'small.png'}"
    elif case == "goal camera":
        args += ["--goal", f"top={root / 'small.png'}"]
    elif case == "bad goal spec":
        args += ["--goal", "front"]
    elif case == "unknown camera":
        args += ["--camera", "top"]
    elif case == "with sim-seed":
        args += ["--sim-seed", "3"]
    elif case == "task with bag":
        args += ["--task", "reach"]
    elif case == "candidates with bag":
        args += ["--candidates", "4"]
    elif case == "tolerance with bag":
        args += ["--tolerance-m", "0.05"]
    elif case == "plans with sim":
        args = ["rank", "--sim-seed", "3", "--task", "reach", "--plans", "p.json",
                "--model", "tiny", "--out", str(tmp_path / "o")]
    try:
        code = main(args)
    except SystemExit as err:  # argparse: mutually exclusive options
        code = err.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len([ln for ln in err.splitlines() if "error" in ln]) == 1
    assert not (tmp_path / "o" / "ranking.json").exists()
