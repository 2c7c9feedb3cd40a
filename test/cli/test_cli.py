import json
import subprocess
import sys

import numpy as np
import pytest

from vap_ros.cli import main


def test_fk_prints_row_major_pose(capsys, panda):
    q = [0.0, -0.2, 0.0, -2.4, 0.0, 2.2, 0.7]
    assert main(["fk", "--joints", *map(str, q)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frame"] == "panda_hand_tcp" and out["base_frame"] == "panda_link0"
    pose = np.array(out["pose"])
    assert pose.shape == (4, 4)
    np.testing.assert_allclose(pose, panda.tcp_poses(np.array([q]))[0], atol=1e-12)
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1])


def test_fk_other_frame_and_urdf(capsys, panda):
    assert main(["fk", "--joints", "0", "0", "0", "-1", "0", "1", "0", "--frame",
                 "panda_link4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frame"] == "panda_link4"
    # A bare URDF (no preset): every 1-DoF joint is commanded, here 7 arm + 2 finger joints.
    assert main(["fk", "--urdf", str(panda.urdf_path), "--frame", "panda_hand_tcp", "--joints",
                 "0", "0", "0", "-1", "0", "1", "0", "0.02", "0.02"]) == 0
    pose = np.array(json.loads(capsys.readouterr().out)["pose"])
    q = np.array([[0, 0, 0, -1, 0, 1, 0]], float)
    np.testing.assert_allclose(pose, panda.tcp_poses(q)[0], atol=1e-12)


@pytest.mark.parametrize("argv,msg", [
    (["fk", "--joints", "0", "0"], "expected 7 arm joint positions"),
    (["fk", "--joints", *["0"] * 7, "--frame", "hand"], "frame 'hand' not in"),
    (["fk", "--joints", *["nan"] * 7], "NaN"),
    (["fk", "--robot", "kuka", "--joints", "0"], "unknown robot preset 'kuka'"),
])
def test_fk_bad_input_is_one_clear_line(capsys, argv, msg):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_console_script_installed():
    out = subprocess.run([sys.executable, "-m", "vap_ros.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for cmd in ("fk", "prompts", "bench"):
        assert cmd in out


def test_bench_prompts_reports_rate(capsys):
    assert main(["bench", "prompts", "--frames", "5", "--cameras", "2", "--size", "64",
                 "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    rate = [ln for ln in out.splitlines() if ln.startswith("prompt_frames_per_s_per_core")]
    assert rate and float(rate[0].split()[-1]) > 0


@pytest.mark.mujoco
def test_bench_prompts_compares_prompt_types(capsys):
    assert main(["bench", "prompts", "--frames", "3", "--cameras", "1", "--size", "32",
                 "--repeats", "1", "--prompt-type", "skeleton", "silhouette"]) == 0
    rows = dict(ln.split(None, 1) for ln in capsys.readouterr().out.splitlines() if ln.strip())
    for t in ("skeleton", "silhouette"):
        assert float(rows[f"{t}_ms_per_frame"]) > 0
        assert float(rows[f"{t}_prompt_frames_per_s_per_core"]) > 0


@pytest.mark.parametrize("joints, words", [
    (["10", "0", "0", "0.5", "0", "1.5", "0.7"],
     "panda_joint1=10 rad is outside its limits [-2.8973, 2.8973] rad"),
    (["1e308", "0", "0", "-1", "0", "1", "0"], "panda_joint1=1e+308 rad is outside"),
    (["0", "0", "0", "0.5", "0", "1.5", "0.7"], "panda_joint4=0.5 rad is outside its limits "
                                                  "[-3.0718, -0.0698] rad"),
    (["0", "0", "0", "-1", "0", "1", "0", "--gripper-width", "-5"],
     "gripper width=-5 m is outside its limits [0, 0.08] m"),
    (["0", "0", "0", "-1", "0", "1", "0", "--gripper-width", "0.1"], "gripper width=0.1 m"),
])
def test_fk_refuses_positions_outside_the_limits(capsys, joints, words):
    from vap_ros.cli.fk import check_limits
    from vap_ros.errors import JointLimitError
    from vap_ros.robot import RobotModel

    assert main(["fk", "--joints", *joints]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and words in out.err, out.err
    q = [float(j) for j in joints[:7]]
    width = float(joints[-1]) if "--gripper-width" in joints else None
    with pytest.raises(JointLimitError) as info:
        check_limits(RobotModel.from_preset("panda"), np.array(q), width)
    assert info.value.value in [*q, width] and info.value.lower < info.value.upper


def test_fk_inside_the_limits_reports_the_width_used(capsys, panda):
    q = [0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0]
    assert main(["fk", "--joints", *map(str, q), "--gripper-width", "0.08"]) == 0
    pose = np.array(json.loads(capsys.readouterr().out)["pose"])
    np.testing.assert_allclose(pose, panda.tcp_poses(np.array([q]), 0.08)[0], atol=1e-12)


def test_eval_refuses_to_replace_earlier_results_before_any_work(tmp_path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text('{"earlier": true}')
    argv = ["eval", "--checkpoint", str(tmp_path / "no_model"), "--data", str(tmp_path),
            "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds metrics.json" in err and "--force" in err
    assert (out / "metrics.json").read_text() == '{"earlier": true}'
    assert main([*argv, "--force"]) == 2  # goes on to the next check: no cache here
    assert "not a clip cache" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["dataset", "build", "BAG", "--out", "OUT"],
    ["train", "--config", "tiny", "--data", "DATA", "--out", "OUT"],
    ["eval", "--checkpoint", "CKPT", "--data", "DATA", "--out", "OUT"],
    ["prompts", "render", "BAG", "--out", "OUT"],
    ["prompts", "episode", "EP", "--out", "OUT"],
    ["sim", "record", "--out", "OUT"],
    ["demo", "--out", "OUT"],
    ["sim", "contact-sheet", "BAG", "--out", "DIR"],
    ["bench", "prompts", "--json", "DIR"],
])
@pytest.mark.parametrize("where", ["itself", "below"])
def test_every_unusable_out_is_one_line_before_any_work(tmp_path, capsys, argv, where):
    """A file where a folder is needed (or the reverse), or a path below a file: refused
    before the command reads its inputs (which do not even exist here)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    out = a_file if where == "itself" else a_file / "sub"
    folder = tmp_path if where == "itself" else a_file / "sub" / "sheet.png"
    inputs = {a: str(tmp_path / a.lower()) for a in ("BAG", "DATA", "CKPT", "EP")}
    argv = [{"OUT": str(out), "DIR": str(folder), **inputs}.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ("is a file" in err or "is a folder" in err or "cannot be created" in err), err
    assert a_file.read_text() == "x"
