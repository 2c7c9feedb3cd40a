"""Does a ``joint_states`` model read the video? Labelled and policy-mode joint sequences of 12
random clips of a clip cache against the logged ones (normalised units, MSE), beside the
dataset mean (labelling) and "hold the current state" (policy mode). docs/policy.md, "Action
head vs action images".

    python scripts/joint_states_probe.py MODEL CLIP_CACHE
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def main(model: str, cache: str) -> None:
    from vap_ros.label import JointStateClips
    from vap_ros.model import WorldModel

    torch.set_num_threads(1)
    wm = WorldModel.from_pretrained(model).eval()
    ds = JointStateClips(cache)
    idx = np.random.default_rng(0).choice(len(ds), 12, replace=False)

    def u8(x):
        return ((x.permute(0, 2, 3, 4, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy()

    lab, pol, truth = [], [], []
    for i in idx:
        it = ds[int(i)]
        v, a, g = u8(it["video"]), u8(it["action_images"]), u8(it["goal"])
        tr = it["joint_states"].numpy()
        lab.append(wm.label(v, steps=1).mean(0))
        pol.append(wm.predict_joint(v[:, 0], a[:, 0], g[:, 0], joint_state=tr[0])[1].mean(0))
        truth.append(tr)
    L, P, T = np.stack(lab), np.stack(pol), np.stack(truth)
    print(f"labelling: MSE {((L - T) ** 2).mean():.4f}, dataset mean "
          f"{((T.mean((0, 1), keepdims=True) - T) ** 2).mean():.4f}")
    print(f"policy mode (frames 1..T-1): MSE {((P[:, 1:] - T[:, 1:]) ** 2).mean():.4f}, hold "
          f"the current state {((T[:, :1] - T[:, 1:]) ** 2).mean():.4f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
