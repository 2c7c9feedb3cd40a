"""The nodes' shared input helpers (vap_ros.ros.inputs) that need no running node."""

from __future__ import annotations

import pytest

from vap_ros.camera import save_calibration
from vap_ros.errors import ConfigError
from vap_ros.ros.inputs import calibration_for


def test_calibration_for_a_node(tmp_path, cam):
    path = save_calibration([cam("front", (1.7, 0.0, 0.8)), cam("left", (0.6, 1.4, 0.7))],
                            tmp_path / "rig.yaml")
    assert calibration_for("", ["front", "back"], "panda_link0") == {}
    got = calibration_for(str(path), ["front", "left"], "panda_link0")
    assert sorted(got) == ["front", "left"]
    with pytest.raises(ConfigError, match=r"rig.yaml' has no camera \['back'\]"):
        calibration_for(str(path), ["front", "back"], "panda_link0")
