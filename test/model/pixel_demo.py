"""Experiment harness (not a test): train a pixel-space preset on synthetic clips for a fixed
wall-clock budget and compare its sampled predictions on held-out clips with copying the first
frame. Used to choose and document the ``small`` preset (docs/model.md).

    python -m vap_ros.testing.clips is not needed: make clips once with
    python -c "import numpy as np; from vap_ros.testing.clips import synthetic_clips; \
np.savez_compressed('out/clips64.npz', **synthetic_clips(320, 64, 64, 9, seed=123))"
    PYTHONPATH=. python test/model/pixel_demo.py --data out/clips64.npz --preset small \
        --minutes 3 --conditioning skeleton --json out/demo.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def _batch(d, idx, device):
    def f(x):
        return torch.from_numpy(x[idx]).to(device).permute(0, 1, 5, 2, 3, 4).float() / 127.5 - 1
    return {"video": f(d["video"]), "prompts": f(d["prompts"]),
            "actions": torch.from_numpy(d["actions"][idx]).to(device)}


def evaluate(wm, d, idx, steps: int) -> dict:
    model_se, copy_se, moving = [], [], []
    for i in idx:
        truth = d["video"][i].astype(np.float64)
        pred = wm.predict(d["video"][i, :, 0], d["prompts"][i], actions=d["actions"][i],
                          steps=steps, seed=0)
        model_se.append((pred[:, 1:] - truth[:, 1:]) ** 2)
        copy_se.append((truth[:, :1] - truth[:, 1:]) ** 2)
        moving.append((truth[:, 1:] != truth[:, :1]).any(-1))
    m, c, mv = map(np.concatenate, (model_se, copy_se, moving))
    psnr = lambda se: float(10 * np.log10(255.0 ** 2 / se.mean()))
    return {"mse_model": float(m.mean()), "mse_copy_first_frame": float(c.mean()),
            "mse_ratio": float(m.mean() / c.mean()), "psnr_model": psnr(m),
            "psnr_copy_first_frame": psnr(c),
            "moving_px_mse_ratio": float(m[mv].mean() / c[mv].mean())}


def main() -> None:
    from vap_ros.model import WorldModel

    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--preset", default="small")
    p.add_argument("--conditioning", default="skeleton")
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--heldout", type=int, default=16)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    d = dict(np.load(a.data))
    n = len(d["video"])
    train_idx, test_idx = np.arange(n - a.heldout), np.arange(n - a.heldout, n)
    wm = WorldModel.from_preset(a.preset, seed=0, conditioning=a.conditioning).to(device)
    opt = torch.optim.AdamW(wm.parameter_groups(a.lr), weight_decay=0.01)
    g = torch.Generator(device).manual_seed(0)
    rng = np.random.default_rng(0)
    start, step, losses = time.time(), 0, []
    while time.time() - start < a.minutes * 60 and step < (a.max_steps or 10**9):
        loss = wm.training_loss(_batch(d, rng.choice(train_idx, a.batch), device), g)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(wm.trainable_parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 200 == 0:
            print(f"step {step} loss {np.mean(losses[-200:]):.4f} {time.time() - start:.0f}s",
                  flush=True)
    wm.eval()
    report = {"preset": a.preset, "conditioning": a.conditioning, "device": device,
              "train_minutes": a.minutes, "train_steps": step, "batch": a.batch,
              "final_loss": float(np.mean(losses[-100:])), "train_clips": len(train_idx),
              "heldout": evaluate(wm, d, test_idx, a.steps),
              "train_fit": evaluate(wm, d, train_idx[:a.heldout], a.steps)}
    print(json.dumps(report, indent=2))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
