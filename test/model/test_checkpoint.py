"""Save -> load reproduces outputs exactly; base directories are checked before loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vap_ros.errors import CheckpointError
from vap_ros.model import WorldModel


def _predict(wm, clips, **kw):
    v = clips["video"][0, :, 0]
    return wm.predict(v, clips["prompts"][0], actions=clips["actions"][0], steps=3, seed=5, **kw)


def _perturb(wm):
    """Move every trainable weight so a load that skipped any part would show."""
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for p in wm.trainable_parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("conditioning", ["skeleton", "raw_action", "none", "concat"])
def test_save_load_exact(tmp_path, clips, conditioning):
    kw = {"conditioning": conditioning}
    if conditioning == "concat":  # skeleton prompts on the input channels
        kw = {"conditioning": "skeleton", "prompt_injection": "concat"}
    wm = WorldModel.from_preset("tiny", seed=1, **kw)
    _perturb(wm)
    out = _predict(wm, clips, guidance_scale=1.0 if conditioning == "none" else 2.0)
    wm.save_pretrained(tmp_path, card={"training_data": "synthetic", "metrics": {"psnr": 1.0}})
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert not any(f.endswith((".bin", ".pt", ".pth", ".pkl")) for f in files)
    assert "transformer/diffusion_pytorch_model.safetensors" in files
    assert ("controlnet.safetensors" in files) == (conditioning == "skeleton")
    if conditioning == "concat":
        assert json.loads((tmp_path / "transformer/config.json").read_text())["in_channels"] == 9
    assert {"lora/adapter_config.json", "lora/adapter_model.safetensors"} <= files
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["preset"] == "tiny" and card["metrics"] == {"psnr": 1.0}
    loaded = WorldModel.from_pretrained(tmp_path)
    assert loaded.config == wm.config
    for (n1, p1), (n2, p2) in zip(wm.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    again = _predict(loaded, clips, guidance_scale=1.0 if conditioning == "none" else 2.0)
    assert np.array_equal(out, again)


def test_small_save_load_exact(tmp_path):
    wm = WorldModel.from_preset("small", seed=0)
    _perturb(wm)
    rng = np.random.default_rng(0)
    first = rng.integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)
    prompts = rng.integers(0, 255, (1, 9, 64, 64, 3), dtype=np.uint8)
    out = wm.predict(first, prompts, steps=2)
    loaded = WorldModel.from_pretrained(wm.save_pretrained(tmp_path))
    assert np.array_equal(out, loaded.predict(first, prompts, steps=2))


def test_incomplete_checkpoint_names_missing(tmp_path, clips):
    wm = WorldModel.from_preset("tiny", seed=0)
    wm.save_pretrained(tmp_path)
    (tmp_path / "controlnet.safetensors").unlink()
    (tmp_path / "lora" / "adapter_model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"controlnet\.safetensors.*lora/adapter_model"):
        WorldModel.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r"missing vap_config\.json"):
        WorldModel.from_pretrained(tmp_path / "nowhere")


def test_corrupt_weights_are_a_checkpoint_error(tmp_path):
    WorldModel.from_preset("tiny", seed=0).save_pretrained(tmp_path)
    (tmp_path / "controlnet.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match=r"controlnet\.safetensors"):
        WorldModel.from_pretrained(tmp_path)


def test_base_dir_missing_or_incomplete(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        WorldModel.from_preset("cogvideox-2b", base=tmp_path / "absent")
    (tmp_path / "transformer").mkdir()
    (tmp_path / "transformer" / "config.json").write_text("{}")
    (tmp_path / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"")
    with pytest.raises(CheckpointError) as err:
        WorldModel.from_preset("cogvideox-2b", base=tmp_path)
    msg = str(err.value)
    assert "transformer/*.safetensors (only pickled .bin" in msg
    assert "vae/config.json" in msg and "vae/*.safetensors" in msg


@pytest.fixture(scope="module")
def fake_t2v_base(tmp_path_factory):
    """A miniature CogVideoX-2b-shaped diffusers directory: T2V transformer (16 in-channels),
    a small CogVideoX VAE and a scheduler config."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXTransformer3DModel,
    )

    root = tmp_path_factory.mktemp("base")
    torch.manual_seed(0)
    CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
        time_embed_dim=32, text_embed_dim=16, num_layers=2, sample_width=4, sample_height=4,
        sample_frames=5, patch_size=2, max_text_seq_length=4).save_pretrained(root / "transformer")
    AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1,
        norm_num_groups=4, sample_height=32, sample_width=32).save_pretrained(root / "vae")
    CogVideoXDDIMScheduler(prediction_type="v_prediction", rescale_betas_zero_snr=True,
                           timestep_spacing="trailing").save_pretrained(root / "scheduler")
    from safetensors.torch import save_file

    save_file({"prompt_embeds": torch.full((1, 4, 16), 0.5)}, root / "prompt_embeds.safetensors")
    return root


def _latent_overrides():
    return dict(height=32, width=32, num_frames=9, controlnet_blocks=1, prompt_channels=8,
                lora_rank=2, vae={"block_out_channels": [8, 8, 8, 8], "latent_channels": 4})


def test_latent_base_loads_widens_and_round_trips(tmp_path, fake_t2v_base):
    wm = WorldModel.from_preset("cogvideox-2b", base=fake_t2v_base, seed=0, **_latent_overrides())
    assert wm.transformer.config.in_channels == 8  # T2V widened to the I2V layout
    assert torch.equal(wm.denoiser.text_embedding, torch.full((1, 4, 16), 0.5))
    assert wm.train_patch_embed
    names = {n for n, p in wm.named_parameters() if p.requires_grad}
    assert "denoiser.transformer.patch_embed.proj.weight" in names
    assert not any(n.startswith("codec.") for n in names)
    rng = np.random.default_rng(0)
    first = rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    prompts = rng.integers(0, 255, (2, 9, 32, 32, 3), dtype=np.uint8)
    _perturb(wm)
    out = wm.predict(first, prompts, steps=2)
    assert out.shape == (2, 9, 32, 32, 3)
    assert np.array_equal(out[:, 0], first)
    loss = wm.training_loss({"video": torch.rand(1, 2, 3, 9, 32, 32) * 2 - 1,
                             "prompts": torch.rand(1, 2, 3, 9, 32, 32) * 2 - 1,
                             "loss_weight": torch.rand(1, 2, 1, 9, 32, 32)})["loss"]
    loss.backward()
    # frozen base referenced by path, trainable parts (widened patch embedding included) saved
    ckpt = wm.save_pretrained(tmp_path / "ckpt")
    assert not (ckpt / "transformer").exists() and not (ckpt / "vae").exists()
    loaded = WorldModel.from_pretrained(ckpt)
    assert np.array_equal(out, loaded.predict(first, prompts, steps=2))


def test_checkpoint_module_does_not_import_the_world_model():
    """checkpoint.py reads and writes parts; WorldModel assembles them (no import cycle)."""
    import subprocess
    import sys

    code = ("import sys, vap_ros.model.checkpoint; "
            "assert 'vap_ros.model.world_model' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
