"""Train the tiny model on the synthetic clips; a process the tests start (plain or through
``accelerate launch``) and may kill. Prints one JSON summary line on stdout at the end.

    python train_script.py --out RUN --steps 6 --every 3 [--resume] [--kill-at 3]
        [--batch 2] [--accum 1] [--clips 8]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

torch.set_num_threads(1)

from synthetic import SyntheticClips

from vap_ros.train.config import load_train_config
from vap_ros.train.trainer import Trainer


def config(steps: int, every: int, batch: int = 2, accum: int = 1, seed: int = 0, **extra):
    return load_train_config("tiny", **{
        "steps": steps, "batch_size": batch, "grad_accum": accum, "seed": seed,
        "checkpoint.every": every, "checkpoint.keep": 3, "log.every": 1,
        "log.sample_every": -1, "log.tensorboard": False, "log.progress": False,
        "optim.warmup_steps": 2, **extra})


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--accum", type=int, default=1)
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--kill-at", type=int, default=None,
                   help="SIGKILL this process right after the checkpoint of this step")
    a = p.parse_args(argv)

    def kill(trainer, step, path):
        if a.kill_at is not None and step == a.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    cfg = config(a.steps, a.every, a.batch, a.accum)
    trainer = Trainer(cfg, SyntheticClips(a.clips), a.out, resume=a.resume,
                      on_checkpoint=(kill,))
    summary = trainer.fit()
    if trainer.is_main:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
