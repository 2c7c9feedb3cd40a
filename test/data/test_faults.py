"""Bad input gives one clear error or a counted skip: never a bare traceback, never silence."""

from __future__ import annotations

import numpy as np
import pytest

from vap_ros.camera import save_calibration
from vap_ros.cli import main
from vap_ros.data import BagReader, build_dataset
from vap_ros.errors import BagError
from vap_ros.testing.bags import write_synthetic_bag

from .conftest import native_config, small_rig


def _build(bag, out, **kw):
    m = build_dataset([bag], out, native_config(**kw), progress=False)
    (rep,) = m["report"]["bags"]
    return m, rep


def test_truncated_mcap_reads_the_intact_part_and_says_so(tmp_path):
    bag = tmp_path / "trunc"
    write_synthetic_bag(bag, small_rig(duration_s=3.0))
    _full, rep_full = _build(bag, tmp_path / "full")
    mcap = next(bag.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.6)])  # the recorder died
    with BagReader(bag) as r:
        assert any("truncated" in w for w in r.warnings)
    _m, rep = _build(bag, tmp_path / "out")
    assert rep["ok"], rep["error"]
    assert any("truncated" in w and "bytes lost" in w for w in rep["warnings"])
    assert 0 < rep["clips_written"] < rep_full["clips_written"]
    assert rep["frames"]["total"] < rep_full["frames"]["total"]


def test_corrupt_messages_are_counted(tmp_path):
    bag = tmp_path / "corrupt"
    write_synthetic_bag(bag, small_rig(), corrupt={"/front/image_raw": [12],
                                                   "/joint_states": [40]})
    _m, rep = _build(bag, tmp_path / "out")
    assert rep["ok"], rep["error"]
    assert rep["messages_skipped"]["/joint_states"] == {"corrupt message (SerdeError)": 1} or \
        sum(rep["messages_skipped"]["/joint_states"].values()) == 1
    dropped = rep["clips_dropped"]
    assert sum(dropped.values()) >= 1 and all("corrupt image message" in k for k in dropped)
    assert any("in a dropped clip" in k for k in rep["frames"]["skipped"])
    f = rep["frames"]
    assert f["used"] + f["subsampled_to_fps"] + sum(f["skipped"].values()) == f["total"]
    assert rep["clips_written"] >= 1


def test_missing_camera_info_without_override_is_one_clear_error(tmp_path, capsys):
    bag = tmp_path / "noinfo"
    rig = write_synthetic_bag(bag, small_rig(duration_s=1.5), camera_info=False)
    m, rep = _build(bag, tmp_path / "out")
    assert not rep["ok"]
    assert "CalibrationError" in rep["error"] and "camera 'front'" in rep["error"]
    assert "/front/camera_info" in rep["error"] and "calibration override" in rep["error"]
    rc = main(["dataset", "build", str(bag), "--out", str(tmp_path / "cli"), "--no-progress"])
    out = capsys.readouterr()
    assert rc == 1 and "FAILED: CalibrationError" in out.out and "Traceback" not in out.err
    # the same bag with a calibration override builds
    calib = save_calibration(rig.cameras, tmp_path / "calib.yaml")
    m = build_dataset([bag], tmp_path / "ok", native_config(), calibration=calib,
                      progress=False)
    assert m["report"]["bags"][0]["ok"] and m["report"]["totals"]["clips_written"] > 0


def test_joint_names_not_matching_the_urdf_is_one_clear_error(tmp_path, capsys):
    bag = tmp_path / "fr3"
    names = [f"fr3_joint{i}" for i in range(1, 8)] + ["fr3_finger_joint1", "fr3_finger_joint2"]
    write_synthetic_bag(bag, small_rig(duration_s=1.5), joint_names=names, plan=False)
    m, rep = _build(bag, tmp_path / "out")
    assert not rep["ok"]
    assert rep["error"].startswith("JointStateError") and "missing joints" in rep["error"]
    assert "panda_joint1" in rep["error"] and "fr3_joint1" in rep["error"]
    rc = main(["prompts", "render", str(bag), "--out", str(tmp_path / "png")])
    err = capsys.readouterr().err
    assert rc == 2 and "error: bag" in err and "Traceback" not in err
    # a name map in the rig config fixes it
    fixed = native_config(prompt_source="logged")
    fixed["joint_states"]["name_map"] = {f"fr3_joint{i}": f"panda_joint{i}" for i in range(1, 8)}
    fixed["joint_states"]["name_map"].update({"fr3_finger_joint1": "panda_finger_joint1",
                                              "fr3_finger_joint2": "panda_finger_joint2"})
    m = build_dataset([bag], tmp_path / "ok", fixed, progress=False)
    assert m["report"]["totals"]["clips_written"] > 0


@pytest.mark.parametrize("make", ["missing", "not_a_bag", "garbage_mcap"])
def test_unreadable_inputs_raise_bag_error(tmp_path, make):
    p = tmp_path / "x.mcap"
    if make == "not_a_bag":
        p = tmp_path / "notes.txt"
        p.write_text("hello")
    elif make == "garbage_mcap":
        p.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(BagError, match=str(p.name)):
        with BagReader(p):
            pass
