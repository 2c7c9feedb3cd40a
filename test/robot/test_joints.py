import numpy as np
import pytest

from vap_ros.errors import ConfigError, JointStateError
from vap_ros.robot import JointStateMapper

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
GRIP = ("panda_finger_joint1", "panda_finger_joint2")


@pytest.fixture()
def mapper():
    return JointStateMapper(ARM, GRIP)


def test_reorders_by_name_and_sums_gripper(mapper):
    names = list(reversed(ARM)) + list(GRIP)
    pos = [7, 6, 5, 4, 3, 2, 1, 0.01, 0.02]
    arm, width = mapper.map(names, pos)
    np.testing.assert_array_equal(arm, [1, 2, 3, 4, 5, 6, 7])
    assert width == pytest.approx(0.03)


def test_gripper_optional(mapper):
    arm, width = mapper.map(ARM, np.arange(7.0))
    assert width is None and arm[6] == 6


@pytest.mark.parametrize("names,pos,match", [
    (ARM[:6], [0.0] * 6, "missing joints \\['panda_joint7'\\]"),
    (ARM[:6] + ("panda_joint_7",), [0.0] * 7, "unknown joint names \\['panda_joint_7'\\]"),
    (ARM, [0.0] * 6, "7 names but 6 positions"),
    (ARM + ("panda_joint1",), [0.0] * 8, "duplicate joint names"),
    (ARM, [0, 0, np.nan, 0, 0, 0, 0], "NaN/inf\\) for joints \\['panda_joint3'\\]"),
    (ARM, [0, 0, 0, np.inf, 0, 0, 0], "panda_joint4"),
])
def test_bad_joint_states(mapper, names, pos, match):
    with pytest.raises(JointStateError, match=match) as info:
        mapper.map(names, pos)
    assert info.value.expected == ARM


def test_extra_names_can_be_ignored():
    m = JointStateMapper(ARM, GRIP, extra="ignore")
    arm, _ = m.map(ARM + ("other_robot_joint",), list(range(8)))
    np.testing.assert_array_equal(arm, np.arange(7))


def test_extra_must_be_error_or_ignore():
    with pytest.raises(ConfigError, match="extra='warn': expected 'error' or 'ignore'"):
        JointStateMapper(ARM, GRIP, extra="warn")


def test_map_many(mapper):
    names = ARM + GRIP
    pos = np.tile(np.r_[np.arange(7.0), 0.01, 0.01], (4, 1))
    arm, width = mapper.map_many(names, pos)
    assert arm.shape == (4, 7)
    np.testing.assert_allclose(width, 0.02)


# ---------------------------------------------------------------- joint-name maps
FR3 = tuple(f"fr3_joint{i}" for i in range(1, 8))
FR3_GRIP = ("fr3_finger_joint1", "fr3_finger_joint2")


@pytest.mark.parametrize("spec", [
    {"fr3_*": "panda_*"},
    ["fr3_*:=panda_*"],
    "fr3_*:=panda_*",
    "fr3_* = panda_*",
    {**{f"fr3_joint{i}": f"panda_joint{i}" for i in range(1, 8)},
     "fr3_finger_joint1": "panda_finger_joint1", "fr3_finger_joint2": "panda_finger_joint2"},
])
def test_name_map_renames_fr3_onto_a_panda_model(spec):
    m = JointStateMapper(ARM, GRIP, name_map=spec)
    names = list(reversed(FR3)) + list(FR3_GRIP)
    arm, width = m.map(names, [7, 6, 5, 4, 3, 2, 1, 0.01, 0.03])
    np.testing.assert_array_equal(arm, [1, 2, 3, 4, 5, 6, 7])
    assert width == pytest.approx(0.04)
    arm2, w2 = m.map_many(names, np.tile([7, 6, 5, 4, 3, 2, 1, 0.01, 0.03], (3, 1)))
    np.testing.assert_array_equal(arm2[2], arm)
    np.testing.assert_allclose(w2, 0.04)


def test_prefix_rules_strip_prefixes_and_exact_entries_win():
    from vap_ros.robot import map_joint_name

    rules = {"left_*": "*", "left_fr3_*": "fr3_*", "left_fr3_joint7": "special"}
    assert map_joint_name("left_fr3_joint1", rules) == "fr3_joint1"  # longest prefix
    assert map_joint_name("left_gripper", rules) == "gripper"
    assert map_joint_name("left_fr3_joint7", rules) == "special"
    assert map_joint_name("right_fr3_joint1", rules) == "right_fr3_joint1"
    m = JointStateMapper(FR3, FR3_GRIP, name_map={"left_*": "*"}, extra="ignore")
    names = [f"left_{n}" for n in FR3 + FR3_GRIP] + [f"right_{n}" for n in FR3]
    arm, width = m.map(names, np.r_[np.arange(7.0), 0.02, 0.02, np.zeros(7)])
    np.testing.assert_array_equal(arm, np.arange(7.0))
    assert width == pytest.approx(0.04)
    assert m.is_gripper_only(["left_fr3_finger_joint1", "left_fr3_finger_joint2"])
    assert not m.is_gripper_only(["left_fr3_joint1", "left_fr3_finger_joint1"])


def test_unknown_names_suggest_a_name_map_and_name_the_map():
    with pytest.raises(JointStateError, match=r"the joint-name map 'fr3\*:=panda\*' would "
                                              r"rename 'fr3_joint1' to 'panda_joint1'"):
        JointStateMapper(ARM, GRIP).map(FR3, np.zeros(7))
    m = JointStateMapper(ARM, GRIP, name_map={"fr3_*": "panda_*"})
    with pytest.raises(JointStateError, match=r"unknown joint names \['wrist'\].*joint-name "
                                              r"map \{'fr3_\*': 'panda_\*'\}") as info:
        m.map((*FR3, "wrist"), np.zeros(8))
    assert info.value.names == (*FR3, "wrist")  # the names as they arrived
    with pytest.raises(JointStateError, match=r"missing joints \['panda_joint7'\].*renamed by "
                                              r"the joint-name map"):
        m.map(FR3[:6], np.zeros(6))


@pytest.mark.parametrize("spec,match", [
    (["fr3_joint1"], "'from:=to'"),
    ("fr3_*:=panda_joint1", r"'\*' only at the end, on both sides"),
    ({"fr3_joint1": "panda_*"}, r"'\*' only at the end"),
    ({"a*b": "c"}, r"'\*' only at the end"),
    ([3], "strings 'from:=to'"),
])
def test_bad_name_maps_are_config_errors(spec, match):
    from vap_ros.errors import ConfigError

    with pytest.raises(ConfigError, match=match) as info:
        JointStateMapper(ARM, GRIP, name_map=spec)
    assert info.value.key == "joint_name_map"


def test_empty_name_maps_change_nothing():
    from vap_ros.robot import parse_name_map

    for spec in (None, "", [], {}, [""], " , "):
        assert parse_name_map(spec) == {}
    assert JointStateMapper(ARM).model_names(ARM) == ARM
