"""``vap-ros sim record`` and ``vap-ros bench sim`` end to end (tiny settings)."""

from __future__ import annotations

import json

import pytest

from vap_ros.cli import main

pytestmark = pytest.mark.mujoco


def test_sim_record_cli(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["sim", "record", "--episodes", "1", "--seed", "3", "--out", str(out),
               "--tasks", "reach", "--size", "32", "32", "--randomize-cameras",
               "--contact-sheet", "--objects", "1", "1", "--msaa", "0"])
    assert rc == 0
    text = capsys.readouterr().out
    summary = json.loads(text[text.index("{"):])
    assert summary["episodes_written"] == 1 and summary["randomize_cameras"]
    assert (out / "episode_0000" / "metadata.yaml").is_file()
    assert (out / "contact_sheet_episode_0000.png").is_file()
    assert json.loads((out / "summary.json").read_text())["tasks"] == {"reach": 1}


def test_sim_record_cli_rejects_bad_plan(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "joint_names": [f"panda_joint{i}" for i in range(1, 8)],
        "positions": [[0, -0.785, 0, -2.356, 0, 1.571, 0.785], [0, -0.785, 0, 0.5, 0, 1.5, 0.7]],
        "time_from_start_s": [0.5, 1.5]}))
    rc = main(["sim", "record", "--plan", str(plan), "--out", str(tmp_path / "o"),
               "--size", "32", "32"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "panda_joint4 = 0.5000 rad outside its limits" in err
    assert not (tmp_path / "o").exists()
    assert main(["sim", "record", "--episodes", "1", "--out", str(tmp_path / "x"),
                 "--tasks", "juggle"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_bench_sim(capsys):
    assert main(["bench", "sim", "--sizes", "32", "--frames", "2", "--msaa", "0"]) == 0
    assert "32px_msaa0_frames_per_s" in capsys.readouterr().out
