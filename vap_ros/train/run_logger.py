"""Training logs of a run: TensorBoard scalars/GIFs, ``logs/train.jsonl`` and sample videos."""

from __future__ import annotations

import json
from pathlib import Path

from vap_ros.train.config import TrainConfig

__all__ = ["RunLogger"]


class RunLogger:
    """TensorBoard + ``logs/train.jsonl`` (main process). On resume, entries after the resume
    step are dropped (TensorBoard ``purge_step``, jsonl truncated) so curves never fork."""

    def __init__(self, out: Path, cfg: TrainConfig, start_step: int):
        self.dir = out / "logs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.dir / "train.jsonl"
        again = self.jsonl.is_file()  # a resume, or a run started again after an early stop
        if again:
            keep = [ln for ln in self.jsonl.read_text().splitlines()
                    if ln.strip() and _json_step(ln) <= start_step]
            self.jsonl.write_text("".join(k + "\n" for k in keep))
        self.samples = out / "samples"
        self.writer = None
        if cfg.log.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # events of steps > start_step (written after the checkpoint) are dropped
            purge = start_step + 1 if start_step or again else None
            self.writer = SummaryWriter(str(self.dir), purge_step=purge)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")

    def video(self, step: int, tag: str, frames, fps: float) -> None:
        from vap_ros.train.video import add_gif, write_mp4

        if self.writer is not None:
            add_gif(self.writer, tag, frames, step, fps)
        write_mp4(self.samples / f"step{step:06d}_{tag.split('/')[-1]}.mp4", frames, fps)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _json_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 62
