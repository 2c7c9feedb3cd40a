"""A saved checkpoint's LoRA restored by the libraries' own loaders (peft's
``PeftModel.from_pretrained``, diffusers' ``load_lora_adapter``) onto a fresh transformer gives
exactly the vap_ros-loaded model's outputs; checkpoints in the older layout still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vap_ros.errors import CheckpointError
from vap_ros.model import WorldModel
from vap_ros.model.backbone import materialise

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "vap_small_sim"


def _fresh_transformer(ckpt: Path):
    """The checkpoint's base transformer as a user would load it with diffusers (own-storage
    copies: see backbone.materialise, else MKL rounds the last bit differently)."""
    from diffusers import CogVideoXTransformer3DModel

    return materialise(CogVideoXTransformer3DModel.from_pretrained(ckpt / "transformer"))


def _forward(transformer, seed=0):
    cfg = transformer.config
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, cfg.sample_frames, cfg.in_channels, cfg.sample_height, cfg.sample_width,
                    generator=g)
    text = torch.randn(1, cfg.max_text_seq_length, cfg.text_embed_dim, generator=g)
    with torch.no_grad():
        return transformer(hidden_states=x, encoder_hidden_states=text,
                           timestep=torch.tensor([600]), return_dict=False)[0]


def _check_library_loaders(ckpt: Path, reference: torch.Tensor) -> None:
    from peft import PeftModel

    base = _forward(_fresh_transformer(ckpt))
    assert not torch.equal(base, reference)  # the adapter changes the output
    peft_model = PeftModel.from_pretrained(_fresh_transformer(ckpt), ckpt / "lora")
    assert torch.equal(_forward(peft_model), reference)
    diffusers_model = _fresh_transformer(ckpt)
    diffusers_model.load_lora_adapter(ckpt / "lora",
                                      weight_name="pytorch_lora_weights.safetensors")
    assert torch.equal(_forward(diffusers_model), reference)


@pytest.mark.parametrize("lora_alpha", [None, 12.0])
def test_lora_round_trip_through_peft_and_diffusers_loaders(tmp_path, lora_alpha):
    wm = WorldModel.from_preset("tiny", seed=1, lora_alpha=lora_alpha)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # lora_B starts at zero: move it, or any loader would "match"
        for name, p in wm.named_parameters():
            if "lora_" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    wm.save_pretrained(tmp_path)
    lora = tmp_path / "lora"
    with safe_open(lora / "adapter_model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert len(keys) == 16 and all(k.startswith("base_model.model.transformer_blocks.")
                                   for k in keys)
    with safe_open(lora / "pytorch_lora_weights.safetensors", "pt") as f:
        assert all(k.startswith("transformer.transformer_blocks.") for k in f.keys())
        meta = json.loads(f.metadata()["lora_adapter_metadata"])
    assert meta["transformer.r"] == 4 and meta["transformer.lora_alpha"] == (lora_alpha or 4)
    assert json.loads((lora / "adapter_config.json").read_text())["lora_alpha"] == (
        lora_alpha or 4)

    loaded = WorldModel.from_pretrained(tmp_path).eval()
    pairs = zip(wm.state_dict().items(), loaded.state_dict().items(), strict=True)
    for (n1, p1), (n2, p2) in pairs:
        assert n1 == n2 and torch.equal(p1, p2), n1
    _check_library_loaders(tmp_path, _forward(loaded.denoiser.transformer))


def test_shipped_model_is_in_the_standard_layouts():
    ref = WorldModel.from_pretrained(SHIPPED).eval()
    _check_library_loaders(SHIPPED, _forward(ref.denoiser.transformer))


def test_older_layout_loads_as_before_and_resaves_in_the_standard_layouts(tmp_path):
    """Checkpoints written before the standard layouts (the shipped model up to Nov 2026):
    unprefixed peft keys, no diffusers file. Made here from the shipped model."""
    legacy = tmp_path / "legacy"
    shutil.copytree(SHIPPED, legacy)
    (legacy / "lora" / "pytorch_lora_weights.safetensors").unlink()
    path = legacy / "lora" / "adapter_model.safetensors"
    old = {k.removeprefix("base_model.model."): v for k, v in load_file(path).items()}
    save_file(old, path)
    wm = WorldModel.from_pretrained(legacy).eval()
    state = wm.denoiser.transformer.state_dict()
    for key, value in old.items():  # every stored tensor, bit for bit, none left at zero
        module, ab = key.rsplit(".lora_", 1)
        assert torch.equal(state[f"{module}.lora_{ab[0]}.default.weight"], value), key
    assert all(v.abs().sum() > 0 for k, v in old.items() if "lora_B" in k)
    reference = _forward(wm.denoiser.transformer)
    wm.save_pretrained(tmp_path / "resaved")
    _check_library_loaders(tmp_path / "resaved", reference)
    again = WorldModel.from_pretrained(tmp_path / "resaved").eval()
    assert torch.equal(_forward(again.denoiser.transformer), reference)


def test_lora_file_missing_weights_is_an_error(tmp_path):
    wm = WorldModel.from_preset("tiny", seed=0)
    wm.save_pretrained(tmp_path)
    path = tmp_path / "lora" / "adapter_model.safetensors"
    kept = {k: v for k, v in load_file(path).items() if "transformer_blocks.1." not in k}
    save_file(kept, path)
    with pytest.raises(CheckpointError, match=r"lacks 8 LoRA weights of the model"):
        WorldModel.from_pretrained(tmp_path)
