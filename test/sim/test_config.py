"""Scene configs are strict dataclasses like every other config (issue 13)."""

from __future__ import annotations

import dataclasses

import pytest

from vap_ros.errors import ConfigError
from vap_ros.sim.config import CameraSpec, SceneConfig


@pytest.mark.parametrize("text, words", [
    ("width: true\n", "width=True: expected an integer"),
    ("marker_radius_m: .nan\n", "marker_radius_m=nan: expected a finite number"),
    ("camera_jitter: {azimuth_degg: 3}\n", "camera_jitter.azimuth_degg=3: unknown key"),
    ("cameras: [{name: front, eye: [1, 0]}]\n", "cameras[0].eye=[1, 0]"),
    ("cameras: [{eye: [1, 0, 1]}]\n", "cameras[0].name: missing"),
    ("objects: [1, 9]\n", "objects=(1, 9): expected [min, max]"),
    ("physics_hz: 0\n", "physics_hz=0"),
    ("", "is empty"),
])
def test_bad_scene_files(tmp_path, text, words):
    path = tmp_path / "scene.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        SceneConfig.from_yaml(path)
    assert str(info.value).startswith(str(path)) and words in str(info.value)


def test_scene_options_every_path_validated(tmp_path):
    path = tmp_path / "scene.yaml"
    path.write_text("objects: 3\ncameras: [{name: top, eye: [0, 0, 2], fov_y_deg: 60}]\n")
    cfg = SceneConfig.from_yaml(path)
    assert cfg.objects == (3, 3) and cfg.cameras == (CameraSpec("top", (0.0, 0.0, 2.0),
                                                                fov_y_deg=60.0),)
    assert SceneConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="camera_hz=7"):
        cfg.with_options(camera_hz=7)
    with pytest.raises(ConfigError, match="shadowz=True: unknown key"):
        cfg.with_options(shadowz=True)
    with pytest.raises(ConfigError, match="msaa_samples=True"):
        dataclasses.replace(cfg, msaa_samples=True)
