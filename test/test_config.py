"""The one config style: strict dataclasses (types, finite floats, unknown keys at every level,
validation on every path) and the preset helper."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest

from vap_ros.config import Presets, StrictConfig, read_config_file, require
from vap_ros.errors import ConfigError


@dataclass(frozen=True)
class Inner(StrictConfig):
    frames: int = 4
    fps: float = 10.0
    size: tuple[int, int] | None = (8, 8)

    def check(self) -> None:
        require(self.frames >= 1, "frames", self.frames, ">= 1")


@dataclass(frozen=True)
class Item(StrictConfig):
    name: str
    tags: tuple[str, ...] = ()


def _one_or_many(value):
    return (value,) if isinstance(value, str) else value


@dataclass(frozen=True)
class Outer(StrictConfig):
    steps: int = 1
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    inner: Inner = field(default_factory=Inner)
    items: tuple[Item, ...] = ()
    topics: Annotated[tuple[str, ...], _one_or_many] = ()
    table: dict[str, float] = field(default_factory=dict)
    keypoints: Literal["all"] | list[int] = "all"


@pytest.mark.parametrize("data, key, value, expected", [
    ({"steps": True}, "steps", True, "an integer"),
    ({"steps": 1.5}, "steps", 1.5, "an integer"),
    ({"steps": "3"}, "steps", "3", "an integer"),
    ({"flag": 1}, "flag", 1, "true or false"),
    ({"mode": "c"}, "mode", "c", "one of 'a', 'b'"),
    ({"inner": {"frames": True}}, "inner.frames", True, "an integer"),
    ({"inner": {"fps": float("nan")}}, "inner.fps", None, "a finite number"),
    ({"inner": {"fps": float("inf")}}, "inner.fps", float("inf"), "a finite number"),
    ({"inner": {"fps": False}}, "inner.fps", False, "a finite number"),
    ({"inner": {"size": [8]}}, "inner.size", [8], "a list of 2"),
    ({"inner": {"size": [8, 8.5]}}, "inner.size[1]", 8.5, "an integer"),
    ({"inner": {"frames": 0}}, "inner.frames", 0, ">= 1"),
    ({"inner": None}, "inner", None, "a mapping of Inner settings"),
    ({"items": [{"name": "x", "tags": ["a", 3]}]}, "items[0].tags[1]", 3, "a string"),
    ({"table": {"a": "x"}}, "table.a", "x", "a finite number"),
    ({"keypoints": [1, True]}, "keypoints", [1, True], "'all' or a list"),
])
def test_wrong_types_name_the_key_the_value_and_what_was_expected(data, key, value, expected):
    with pytest.raises(ConfigError) as info:
        Outer.from_dict(data, source="my.yaml")
    err = info.value
    assert err.key == key and expected in err.expected
    if value is not None:
        assert err.value == value and type(err.value) is type(value)
    assert str(err).startswith(f"my.yaml: {key}=") and expected in str(err)


@pytest.mark.parametrize("data, key", [
    ({"stepz": 3}, "stepz"),
    ({"inner": {"frmaes": 16}}, "inner.frmaes"),
    ({"items": [{"name": "x", "tagz": []}]}, "items[0].tagz"),
])
def test_unknown_keys_are_refused_at_every_level(data, key):
    with pytest.raises(ConfigError, match="unknown key; expected one of") as info:
        Outer.from_dict(data)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}=")


def test_missing_required_key_and_non_mapping():
    with pytest.raises(ConfigError, match=r"items\[0\].name: missing"):
        Outer.from_dict({"items": [{"tags": []}]})
    with pytest.raises(ConfigError, match="expected a mapping of Outer settings, got list"):
        Outer.from_dict([1, 2])


def test_values_are_normalised_and_round_trip():
    cfg = Outer.from_dict({"steps": 3, "inner": {"fps": 5, "size": [16, 32]},
                           "items": [{"name": "x", "tags": ["a"]}], "topics": "/t",
                           "keypoints": (1, 2)})
    assert cfg.inner.fps == 5.0 and type(cfg.inner.fps) is float
    assert cfg.inner.size == (16, 32) and cfg.items[0].tags == ("a",)
    assert cfg.topics == ("/t",) and cfg.keypoints == [1, 2]
    d = cfg.to_dict()
    assert d["inner"]["size"] == [16, 32] and d["items"] == [{"name": "x", "tags": ["a"]}]
    assert Outer.from_dict(d) == cfg


def test_every_path_validates():
    """The constructor, dataclasses.replace and the dotted replace all check."""
    with pytest.raises(ConfigError, match="steps=True"):
        Outer(steps=True)
    cfg = Outer()
    with pytest.raises(ConfigError, match="frames=0"):
        dataclasses.replace(cfg, inner=dataclasses.replace(cfg.inner, frames=0))
    with pytest.raises(ConfigError, match=r"inner.fps=nan"):
        cfg.replace(**{"inner.fps": float("nan")})
    with pytest.raises(ConfigError, match=r"inner\.frmaes=3: unknown key"):
        cfg.replace(**{"inner.frmaes": 3})
    with pytest.raises(ConfigError, match="unknown key 'innr'"):
        cfg.replace(**{"innr.frames": 3})
    with pytest.raises(ConfigError, match="not a section"):
        cfg.replace(**{"steps.x": 3})
    assert cfg.replace(**{"inner.frames": 7}).inner.frames == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 3  # type: ignore[misc]


def test_config_files(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing set\n")
    with pytest.raises(ConfigError, match="is empty") as info:
        read_config_file(empty)
    assert info.value.source == str(empty)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        read_config_file(listy)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="invalid JSON") as info:
        read_config_file(bad)
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "nope.yaml")


def test_presets_by_name_and_path(tmp_path):
    presets = Presets("vap_ros.data", "rig")
    assert {"sim", "franka_lab"} <= set(presets.names())
    doc = presets.load("sim")
    assert doc.data["name"] == "sim" and doc.source == "rig preset 'sim'" and doc.path is None
    with pytest.raises(ConfigError, match=r"unknown rig preset 'simm'; available: \[") as info:
        presets.load("simm")
    assert info.value.value == "simm" and "franka_lab" in str(info.value)
    own = tmp_path / "own.yaml"
    own.write_text("notes: dropped\nname: own\n")
    doc = presets.load(own)
    assert doc.data == {"name": "own"} and doc.path == own and doc.source == str(own)
    assert presets.load(str(own)).data == {"name": "own"}


def test_every_package_config_uses_the_one_style():
    """The four preset loaders share Presets; every config class is a StrictConfig."""
    from vap_ros.data import config as data_config
    from vap_ros.model import config as model_config
    from vap_ros.robot import skeleton
    from vap_ros.sim.config import CameraJitter, CameraSpec, SceneConfig
    from vap_ros.train import config as train_config

    for module in (data_config, model_config, skeleton, train_config):
        assert isinstance(module.PRESETS, Presets)
    for cls in (data_config.RigConfig, data_config.ClipConfig, data_config.SyncConfig,
                data_config.CameraTopics, data_config.JointStateTopics,
                model_config.WorldModelConfig, train_config.TrainConfig,
                train_config.ModelConfig, train_config.OptimConfig, train_config.LossConfig,
                train_config.CheckpointConfig, train_config.LogConfig, SceneConfig, CameraSpec,
                CameraJitter):
        assert issubclass(cls, StrictConfig) and "__post_init__" not in vars(cls), cls
