"""The ControlNet branch leaves the base bit-identical at init; training moves only what the model
declares trainable."""

from __future__ import annotations

import pytest
import torch

from vap_ros.model import WorldModel


def _inputs(wm, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = wm.config
    c = wm.codec.channels
    x = torch.randn(n, cfg.latent_frames, 2 * c, cfg.height, cfg.width, generator=g)
    t = torch.tensor([999, 400][:n])
    prompts = torch.rand(n, 3, cfg.num_frames, cfg.height, cfg.width, generator=g) * 2 - 1
    actions = torch.randn(n, cfg.num_frames, cfg.action_dim, generator=g)
    return x, t, prompts, actions


@pytest.mark.parametrize("conditioning", ["skeleton", "raw_action", "none"])
def test_init_output_bit_identical_to_base(conditioning):
    wm = WorldModel.from_preset("tiny", seed=3, conditioning=conditioning)
    x, t, prompts, actions = _inputs(wm)
    d = wm.denoiser
    with torch.no_grad():
        control = d.controlnet.encode(prompts) if d.controlnet is not None else None
        emb = d.action_adapter.embed(actions) if d.action_adapter is not None else None
        out = d(x, t, control, emb)
        ref = d.reference(x, t)
        # the plain diffusers transformer with LoRA switched off: the untouched base
        d.transformer.disable_adapters()
        base = d.reference(x, t)
        d.transformer.enable_adapters()
    assert control is None or control.abs().sum() > 0  # the branch does see the prompt
    assert torch.equal(out, ref)
    assert torch.equal(out, base)


def test_controlnet_copies_carry_no_lora():
    wm = WorldModel.from_preset("tiny", seed=0)
    names = [n for n, _ in wm.denoiser.controlnet.named_parameters()]
    assert names and not any("lora" in n for n in names)
    assert any("lora_A" in n for n, _ in wm.transformer.named_parameters())


def test_one_step_changes_only_trainable(batch):
    wm = WorldModel.from_preset("tiny", seed=0, train_base=False)
    before = {n: p.detach().clone() for n, p in wm.named_parameters()}
    trainable = {n for n, p in wm.named_parameters() if p.requires_grad}
    assert trainable and all(("lora_" in n or n.startswith("denoiser.controlnet."))
                             for n in trainable)
    opt = torch.optim.Adam(wm.parameter_groups(1e-3))
    loss = wm.training_loss(batch, torch.Generator().manual_seed(0))["loss"]
    loss.backward()
    opt.step()
    changed = {n for n, p in wm.named_parameters() if not torch.equal(p, before[n])}
    assert changed <= trainable
    assert any(".zero_projs." in n for n in changed)  # the zero projections move first
    assert any("lora_B" in n for n in changed)


def test_parameter_groups_cover_trainable():
    wm = WorldModel.from_preset("tiny", seed=0, conditioning="raw_action")
    groups = {g["name"]: g for g in wm.parameter_groups(2e-4)}
    assert set(groups) == {"lora", "action", "base"}
    ids = {id(p) for g in groups.values() for p in g["params"]}
    assert ids == {id(p) for p in wm.trainable_parameters()}
    assert groups["action"]["lr"] == pytest.approx(2e-4)


def test_prompt_encoded_once_per_rollout(clips):
    wm = WorldModel.from_preset("tiny", seed=0)
    calls = []
    wm.denoiser.controlnet.encoder.register_forward_hook(lambda *a: calls.append(1))
    wm.predict(clips["video"][0, :, 0], clips["prompts"][0], steps=3)
    assert len(calls) == 1


def test_gradient_checkpointing_same_loss_and_grads(batch):
    losses, grads = [], []
    for ckpt in (False, True):
        wm = WorldModel.from_preset("tiny", seed=0)
        wm.enable_gradient_checkpointing(ckpt)
        loss = wm.training_loss(batch, torch.Generator().manual_seed(0))["loss"]
        loss.backward()
        losses.append(loss.detach())
        grads.append(wm.denoiser.controlnet.zero_projs[0].weight.grad.clone())
    assert torch.allclose(losses[0], losses[1])
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
