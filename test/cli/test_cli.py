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
