"""A bag built into clips of another prompt type (depth), end to end: the manifest and the
dataset say so, a model trained on them records it in its vap_config.json, and a model of
another prompt type refuses them (training and evaluation)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vap_ros.data import ClipDataset, build_dataset, read_manifest
from vap_ros.errors import ConfigError
from vap_ros.prompts.encoding import DEPTH_RANGE_M, decode_depth

from .conftest import native_config

pytestmark = pytest.mark.mujoco


@pytest.fixture(scope="module")
def depth_cache(good_bag, tmp_path_factory):
    """32x32 clips of 5 frames (the tiny model's), depth prompts."""
    bag, _ = good_bag
    out = tmp_path_factory.mktemp("depth_cache")
    cfg = native_config(prompt_type="depth",
                        clip={"frames": 5, "fps": 10, "stride": 2, "size": [32, 32]})
    build_dataset([bag], out, cfg, progress=False, alignment=False)
    return out


def test_the_cache_records_and_holds_depth_prompts(depth_cache):
    manifest = read_manifest(depth_cache)
    assert manifest["prompt_type"] == "depth" and manifest["config"]["prompt_type"] == "depth"
    ds = ClipDataset(depth_cache, source="logged")
    assert ds.prompt_type == "depth" and ds[0]["meta"]["prompt_type"] == "depth"
    assert len(ds) >= 3
    seen: dict[tuple[int, int], np.ndarray] = {}
    for i in range(len(ds)):
        raw = ds.raw(i)
        for src in ("logged", "commanded"):
            p = raw[f"prompts_{src}"]  # (V, F, 32, 32, 3)
            assert (p[..., 0] == p[..., 2]).all() and (p[..., 1] == p[..., 2]).all()  # grey
            assert (p.any(axis=-1).sum(axis=(2, 3)) > 10).all()  # the arm in every frame
            d = decode_depth(p[..., 0].max(axis=(2, 3)))  # nearest robot pixel per frame
            assert (d > DEPTH_RANGE_M[0]).all() and (d < 2.5).all()
        for v, row in enumerate(raw["image_index"]):  # overlapping clips share frames
            for f, idx in enumerate(row.tolist()):
                frame = raw["prompts_logged"][v, f]
                if (v, idx) in seen:
                    np.testing.assert_array_equal(frame, seen[(v, idx)])
                seen[(v, idx)] = frame
    assert len(seen) < sum(ds.raw(i)["image_index"].size for i in range(len(ds)))


def test_a_model_takes_only_its_prompt_type(depth_cache, tmp_path):
    import torch

    from vap_ros.model import WorldModel
    from vap_ros.serve import load_world_model
    from vap_ros.train.checkpoint import resolve_model_dir
    from vap_ros.train.config import load_train_config
    from vap_ros.train.evaluate import EvalSettings, evaluate
    from vap_ros.train.trainer import Trainer

    torch.set_num_threads(1)
    ds = ClipDataset(depth_cache, source="logged")
    cfg = load_train_config("tiny", steps=1, **{"checkpoint.every": 1, "log.tensorboard": False,
                                                "log.progress": False, "log.sample_every": -1})
    with pytest.raises(ConfigError) as err:
        Trainer(cfg, ds, tmp_path / "skeleton_run")
    msg = str(err.value)
    assert f"prompt type mismatch: the training clips ({depth_cache}) has 'depth' prompts " \
           "but the model takes 'skeleton' prompts" in msg
    assert "--prompt-type skeleton" in msg and "model.overrides.prompt_type=depth" in msg
    # trained on depth prompts: the checkpoint's vap_config.json says so, and loads back
    depth_cfg = cfg.replace(**{"model.overrides": {"prompt_type": "depth"}})
    Trainer(depth_cfg, ds, tmp_path / "depth_run").fit()
    model_dir = resolve_model_dir(tmp_path / "depth_run")
    assert json.loads((model_dir / "vap_config.json").read_text())["prompt_type"] == "depth"
    wm, _ = load_world_model(str(model_dir))
    assert wm.config.prompt_type == "depth"
    report = evaluate({"depth": wm}, ds, settings=EvalSettings(max_clips=1, steps=1, videos=0),
                      progress=False)
    assert np.isfinite(report["models"]["depth"]["aggregate"]["psnr"])
    with pytest.raises(ConfigError, match="the evaluation clips \\(model skeleton\\) has "
                                          "'depth' prompts but the model takes 'skeleton'"):
        evaluate({"skeleton": WorldModel.from_preset("tiny")}, ds, progress=False)
