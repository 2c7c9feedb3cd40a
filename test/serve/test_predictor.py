"""Loading models for serving: the shipped model is the default, a random-init preset warns."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vap_ros.errors import ConfigError
from vap_ros.serve import predictor
from vap_ros.serve.predictor import load_world_model, shipped_model_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_model_is_found_in_the_checkout_and_loaded_by_default():
    found = shipped_model_dir()
    assert (found / "model_card.json").is_file()
    assert found.name == predictor.SHIPPED_MODEL
    wm, model_id = load_world_model("")  # the node's default parameter value
    assert model_id == f"{wm.config.preset}:{predictor.SHIPPED_MODEL}"
    assert wm.config.conditioning == "skeleton" and not wm.training


def test_an_installed_share_directory_wins_over_the_checkout(tmp_path, monkeypatch):
    share = tmp_path / "share" / "vap_ros"
    (share / "models" / predictor.SHIPPED_MODEL).mkdir(parents=True)
    (share / "models" / predictor.SHIPPED_MODEL / "model_card.json").write_text("{}")
    import ament_index_python.packages as packages

    monkeypatch.setattr(packages, "get_package_share_directory", lambda name: str(share))
    assert shipped_model_dir() == share / "models" / predictor.SHIPPED_MODEL


def test_a_missing_shipped_model_names_where_it_was_looked_for(tmp_path, monkeypatch):
    import ament_index_python.packages as packages

    def not_installed(name):
        raise packages.PackageNotFoundError(name)

    monkeypatch.setattr(packages, "get_package_share_directory", not_installed)
    monkeypatch.setattr(predictor, "__file__", str(tmp_path / "vap_ros" / "serve" / "x.py"))
    with pytest.raises(ConfigError, match=r"not found \(looked in the ament index.*"
                                          + str(tmp_path / "models")):
        shipped_model_dir()


def test_a_random_init_preset_logs_a_warning(monkeypatch, caplog):
    monkeypatch.delenv("VAP_ROS_QUIET_RANDOM_INIT", raising=False)
    with caplog.at_level(logging.WARNING, logger="vap_ros.serve.predictor"):
        _, model_id = load_world_model("tiny", seed=3)
    assert model_id == "tiny:random-init-seed3"
    assert any("random-init preset" in r.getMessage() for r in caplog.records)
