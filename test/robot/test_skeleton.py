import numpy as np
import pytest

from vap_ros.errors import ConfigError
from vap_ros.robot import SkeletonSpec, available_presets, load_robot_preset


def test_panda_preset():
    assert "panda" in available_presets()
    spec = SkeletonSpec.from_preset("panda")
    assert {"left_fingertip", "right_fingertip", "tcp"} <= set(spec.names)
    assert spec.colors.dtype == np.uint8 and spec.colors.shape == (len(spec.edges), 3)


def test_fingertips_follow_gripper(panda):
    spec = SkeletonSpec.from_preset("panda")
    q = np.tile([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8], (2, 1))
    kp = spec.keypoints(panda, q, [0.0, 0.08])
    li, ri = spec.index("left_fingertip"), spec.index("right_fingertip")
    gap = np.linalg.norm(kp[:, li] - kp[:, ri], axis=1)
    np.testing.assert_allclose(gap, [0.0, 0.08], atol=1e-9)


def test_custom_skeleton_from_yaml_without_code(tmp_path, panda):
    p = tmp_path / "mini.yaml"
    p.write_text("""
name: mini
urdf: package://example-robot-data/robots/panda_description/urdf/panda.urdf
skeleton:
  keypoints:
    - {name: a, frame: panda_link0}
    - {name: b, frame: panda_hand_tcp, offset: [0, 0, 0.01]}
  edges: [[a, b, [1, 2, 3]]]
""")
    spec = SkeletonSpec.from_preset(p)
    assert spec.names == ("a", "b") and spec.colors.tolist() == [[1, 2, 3]]
    assert load_robot_preset(p)["name"] == "mini"


@pytest.mark.parametrize("doc,match", [
    ({"keypoints": [{"name": "a", "frame": "x"}], "edges": [["a", "zz"]]}, "unknown keypoint"),
    ({"keypoints": [{"name": "a"}], "edges": []}, "malformed"),
    ({"keypoints": [{"name": "a", "frame": "x"}, {"name": "a", "frame": "y"}], "edges": []},
     "not unique"),
])
def test_bad_specs(doc, match):
    with pytest.raises(ConfigError, match=match):
        SkeletonSpec.from_dict(doc)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown robot preset 'ur5'"):
        load_robot_preset("ur5")
