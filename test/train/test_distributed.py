"""``accelerate launch`` with 2 CPU processes (gloo DDP) follows the single-process loss
trajectory at the same global batch."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic import SyntheticClips
from train_script import config

STEPS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # three Python processes importing torch + diffusers: ~30-70 s on 2 cores
def test_two_process_cpu_run_matches_single_process(tmp_path):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.fail("the accelerate launcher is not installed beside this Python")
    from vap_ros.train.trainer import Trainer, load_jsonl

    # Reference: 1 process, batch 2 x grad_accum 2 = global batch 4.
    torch.set_num_threads(1)
    single = tmp_path / "single"
    Trainer(config(STEPS, STEPS, batch=2, accum=2), SyntheticClips(8), single).fit()

    # 2 processes x batch 2 x grad_accum 1 = global batch 4, same micro-batches and noise.
    ddp = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip",
           "127.0.0.1", "--main_process_port", str(_free_port()),
           str(HERE / "train_script.py"), "--out", str(ddp), "--steps", str(STEPS),
           "--every", str(STEPS), "--batch", "2", "--accum", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    import json

    info = json.loads((ddp / "run.json").read_text())
    assert info["starts"][0]["world_size"] == 2
    state = json.loads((ddp / "checkpoints" / f"{STEPS:06d}" / "trainer_state.json").read_text())
    assert state["global_batch"] == 4 and state["samples_seen"] == 4 * STEPS
    assert (ddp / "checkpoints" / f"{STEPS:06d}" / "rng" / "rank_1.pt").is_file()

    a = [r["train/loss"] for r in load_jsonl(single)]
    b = [r["train/loss"] for r in load_jsonl(ddp)]
    assert len(a) == len(b) == STEPS
    assert b == pytest.approx(a, rel=1e-4, abs=1e-6)
    # and the weights agree to float rounding (gradient all-reduce order)
    from safetensors.torch import load_file

    wa = load_file(str(single / "checkpoints" / f"{STEPS:06d}" / "trainable.safetensors"))
    wb = load_file(str(ddp / "checkpoints" / f"{STEPS:06d}" / "trainable.safetensors"))
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=1e-5)
