"""Training throughput of the world-model presets: clips/s through the real training loop.

For each preset, builds synthetic moving-arm clips at the preset's size (``vap_ros.model.
synthetic``), runs the ``vap_ros.train`` trainer (data loading, interaction-weighted loss,
backward, AdamW; no logging, one checkpoint at the end that is not timed) for
``--warmup + --steps`` optimizer steps and reports the median step time after the warm-up as
clips/s (global batch / step time). Single process, ``--threads`` torch threads.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

HELP = "training clips/s of the tiny/small presets (median step, single process)"


def add_arguments(p) -> None:
    p.add_argument("--presets", default="tiny,small", help="comma-separated model presets")
    p.add_argument("--batch", type=int, default=4, help="clips per optimizer step")
    p.add_argument("--steps", type=int, default=8, help="timed optimizer steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--views", type=int, default=1, help="camera views per clip")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--mixed-precision", default="no", choices=("no", "bf16", "fp16"))


class _Clips:
    """The dataset item layout over in-memory uint8 arrays (keypoints at the image centre)."""

    def __init__(self, data: dict, keypoints: int = 16):
        self.data, self.k = data, keypoints
        self.gripper_keypoints = [7, 13, 14, 15]

    def __len__(self) -> int:
        return self.data["video"].shape[0]

    def __getitem__(self, i: int) -> dict:
        import torch

        def model(x):
            return torch.from_numpy(x).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0

        v = self.data["video"][i]
        V, T, H, W, _ = v.shape
        kp = torch.full((V, T, self.k, 2), 0.5) * torch.tensor([W - 1.0, H - 1.0])
        return {"video": model(v), "prompts": model(self.data["prompts"][i]),
                "actions": torch.from_numpy(self.data["actions"][i]), "keypoints_uv": kp,
                "meta": {"bag": "synthetic", "index": i}}


def run(args) -> dict:
    import torch

    from vap_ros.model import load_preset
    from vap_ros.testing.clips import synthetic_clips
    from vap_ros.train.config import load_train_config
    from vap_ros.train.trainer import Trainer, load_jsonl

    torch.set_num_threads(args.threads)
    report: dict = {"threads": args.threads, "batch": args.batch, "views": args.views,
                    "mixed_precision": args.mixed_precision}
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        mc = load_preset(preset)
        data = synthetic_clips(max(args.batch, 4), mc.height, mc.width, mc.num_frames,
                               views=args.views, seed=0)
        steps = args.warmup + args.steps
        cfg = load_train_config("tiny", **{
            "model.preset": preset, "steps": steps, "batch_size": args.batch,
            "mixed_precision": args.mixed_precision,
            "model.gradient_checkpointing": args.gradient_checkpointing,
            "checkpoint.every": 10 ** 9, "log.every": 1, "log.sample_every": -1,
            "log.tensorboard": False, "log.progress": False})
        with tempfile.TemporaryDirectory(prefix="vap_bench_train_") as tmp:
            trainer = Trainer(cfg, _Clips(data), Path(tmp) / "run")
            counts = trainer.model.num_parameters()
            trainer.fit()
            times = [r["throughput/step_s"] for r in load_jsonl(Path(tmp) / "run")]
        step_s = statistics.median(times[args.warmup:])
        report[f"{preset}.size"] = f"{mc.num_frames}x{mc.height}x{mc.width}"
        report[f"{preset}.params_trainable_M"] = counts["trainable"] / 1e6
        report[f"{preset}.step_s"] = step_s
        report[f"{preset}.clips_per_s"] = args.batch / step_s
    return report


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args()), indent=2))
