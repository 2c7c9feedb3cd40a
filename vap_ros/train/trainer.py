"""The training loop on HF accelerate: DDP/FSDP via ``accelerate launch``, mixed precision,
gradient accumulation and checkpointing, interaction-weighted loss, atomic checkpoints and an
exact (bit-for-bit) resume.

What makes resume exact: the data order and the diffusion noise are pure functions of
(seed, step, micro-batch) (``vap_ros.train.data``); the checkpoint holds every trainable
parameter, the optimizer and lr-scheduler state and each process's RNG states; the frozen parts
are rebuilt deterministically from the config. Killing the process at any moment loses at most
the steps since the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn

from vap_ros.errors import CheckpointError, ConfigError
from vap_ros.train import checkpoint as ckpt_io
from vap_ros.train.config import TrainConfig
from vap_ros.train.data import StepBatches, micro_seed
from vap_ros.train.interaction import loss_weight, motion_region
from vap_ros.train.run import prepare_run_dir, record_start
from vap_ros.train.run_logger import RunLogger

if TYPE_CHECKING:
    from vap_ros.model.world_model import WorldModel

__all__ = ["Trainer", "load_jsonl", "train"]

log = logging.getLogger(__name__)

Callback = Callable[["Trainer", int, Path], None]


class _LossModule(nn.Module):
    """Puts ``WorldModel.training_loss`` behind ``forward`` so DDP/FSDP see the call."""

    def __init__(self, wm: WorldModel, cond_aug=None):
        super().__init__()
        self.wm = wm
        self.cond_aug = cond_aug

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        if self.cond_aug is None:
            return self.wm.training_loss(batch, generator=generator)
        return self.wm.training_loss(batch, generator=generator, cond_aug=self.cond_aug)


def _collate():
    from vap_ros.data import collate_clips

    return collate_clips


class Trainer:
    """Train a world model on a clip dataset into a run folder.

    Args:
        config: the validated training config (for a resume: None uses the run's saved one).
        dataset: a map-style dataset with the ``vap_ros.data.ClipDataset`` item layout.
        out: the run folder.
        resume: continue the run in ``out`` from its newest valid checkpoint.
        data_path: recorded in run.json.
        on_checkpoint: callbacks ``f(trainer, step, path)`` after each checkpoint is committed.

    Raises:
        ConfigError: invalid settings, a non-empty ``out`` without ``resume``, a settings change
            on resume, clips that do not fit the model.
        CheckpointError: ``resume`` but no usable checkpoint.
    """

    def __init__(self, config: TrainConfig | None, dataset, out: str | Path, *,
                 resume: bool = False, data_path: str | None = None,
                 on_checkpoint: tuple[Callback, ...] = ()):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.out = Path(out)
        self.dataset = dataset
        self.data_path = data_path
        self.on_checkpoint = list(on_checkpoint)
        self.config = prepare_run_dir(self.out, config, resume)
        cfg = self.config
        self.accelerator = Accelerator(
            mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available(),
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=False)])
        acc = self.accelerator
        from accelerate.utils import DistributedType

        if acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
            raise ConfigError(f"{acc.distributed_type.value}: this trainer's checkpoints gather "
                              "plain parameters and optimizer state, which sharded engines do "
                              "not hold; launch with DDP (accelerate launch --multi_gpu)")
        self.rank, self.world = acc.process_index, acc.num_processes
        self.is_main = acc.is_main_process
        self.ckpts = self.out / ckpt_io.CHECKPOINTS
        self.resume_from: Path | None = None
        if resume:
            self.resume_from = ckpt_io.latest_valid(self.out)
            if self.resume_from is None:
                raise CheckpointError(f"cannot resume {self.out}: no complete, uncorrupted "
                                      "checkpoint in it")
            log.info("resuming from %s", self.resume_from)
        acc.wait_for_everyone()

        from accelerate.utils import set_seed

        set_seed(cfg.seed)
        from vap_ros.serve import enable_vae_tiling
        from vap_ros.train.model_setup import build_model

        self.model = build_model(cfg.model, cfg.seed)
        self.cond_aug = None
        if cfg.augment.active:  # conditioning-frame corruption; its inference level is saved
            from vap_ros.model.cond_aug import CondAugment

            a = cfg.augment
            self.cond_aug = CondAugment(noise=a.cond_noise, blur=a.cond_blur, prob=a.cond_prob)
            self.model.config = self.model.config.replace(cond_noise=a.inference_noise)
        enable_vae_tiling(self.model)  # encode clips as the nodes and eval do (latent models)
        if cfg.model.gradient_checkpointing:
            self.model.enable_gradient_checkpointing(True)
        self._check_data()
        self._keypoints = self._interaction_keypoints()
        self.latent_cache = None
        if cfg.cache_latents:
            from vap_ros.train.latent_cache import LatentCache

            self.latent_cache = LatentCache.attach(self.model, self.out / "latent_cache")
            if self.latent_cache is None:
                log.info("cache_latents ignored: this pixel-space model has no VAE to cache")
        self.model.to(acc.device)

        groups = self.model.parameter_groups(cfg.optim.lr)
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.optim.lr, betas=cfg.optim.betas,
                                           eps=cfg.optim.eps, weight_decay=cfg.optim.weight_decay)
        from diffusers.optimization import get_scheduler

        self.lr_scheduler = get_scheduler(cfg.optim.scheduler, self.optimizer,
                                          num_warmup_steps=cfg.optim.warmup_steps,
                                          num_training_steps=cfg.steps)
        self.step = 0
        self._rng_state = None
        if self.resume_from is not None:
            self._load_checkpoint(self.resume_from)
        self.loss_module, self.optimizer = acc.prepare(_LossModule(self.model, self.cond_aug),
                                                     self.optimizer)
        self.samples_seen = self.step * cfg.batch_size * self.world * cfg.grad_accum

    # ------------------------------------------------------------------ setup helpers
    def _check_data(self) -> None:
        n = len(self.dataset)
        if n == 0:
            raise ConfigError("the training dataset holds no clips")
        item = self.dataset[0]
        mc = self.model.config
        v = item["video"]
        want = (3, mc.num_frames, mc.height, mc.width)
        if tuple(v.shape[1:]) != want:
            raise ConfigError(
                f"clips are {tuple(v.shape)} (V, 3, T, H, W) but the model takes (V, "
                f"{', '.join(map(str, want))}): build the clip cache with the model's size "
                "and frame count, or pick a matching model preset")
        from vap_ros.model.config import check_prompt_type

        root = getattr(self.dataset, "root", None)
        check_prompt_type(mc, getattr(self.dataset, "prompt_type", "skeleton"),
                          "the training clips" + (f" ({root})" if root else ""))

    def _dataset_info(self) -> dict[str, Any]:
        ds = self.dataset
        info: dict[str, Any] = {"clips": len(ds), "type": type(ds).__name__}
        if getattr(ds, "source", None) is not None:
            info["source"] = ds.source
        if getattr(ds, "prompt_type", None) is not None:
            info["prompt_type"] = ds.prompt_type
        manifest = getattr(ds, "manifest", None)  # vap_ros.data.ClipDataset
        if isinstance(manifest, dict):
            info["rig"] = (manifest.get("config") or {}).get("name")
            info["clip"] = manifest.get("clip")
            info["bags"] = len({c.get("bag") for c in manifest.get("clips", [])})
        return info

    def _interaction_keypoints(self):
        lc = self.config.loss
        if lc.interaction_factor == 1.0:
            return None
        if lc.interaction_keypoints == "all":
            return "all"
        if lc.interaction_keypoints == "gripper":
            idx = list(getattr(self.dataset, "gripper_keypoints", []) or [])
            if not idx:
                from vap_ros.robot import SkeletonSpec

                idx = [int(i) for i in SkeletonSpec.from_preset(lc.skeleton).gripper]
            return idx
        return list(lc.interaction_keypoints)

    def _loss_weight(self, batch: dict) -> torch.Tensor | None:
        lc, mc = self.config.loss, self.model.config
        weight = None
        if self._keypoints is not None and "keypoints_uv" in batch:
            idx = None if self._keypoints == "all" else self._keypoints
            weight = loss_weight(batch["keypoints_uv"], mc.height, mc.width,
                                 factor=lc.interaction_factor, radius=lc.interaction_radius,
                                 shape=lc.interaction_shape, keypoint_indices=idx)
        if lc.motion_factor != 1.0:
            extra = (lc.motion_factor - 1.0) * motion_region(batch["video"],
                                                             threshold=lc.motion_threshold)
            weight = 1.0 + extra if weight is None else weight + extra
        return weight

    # ------------------------------------------------------------------ checkpoints
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().to("cpu", copy=True).contiguous()
                for n, p in self.model.named_parameters() if p.requires_grad}

    def save_checkpoint(self) -> Path:
        """Write the checkpoint of the current step (every process must call this)."""
        from safetensors.torch import save_file

        acc, step = self.accelerator, self.step
        tmp = self.ckpts / f".tmp-{step:06d}"
        if self.is_main:
            ckpt_io.begin(self.ckpts, step)
        acc.wait_for_everyone()
        (tmp / "rng").mkdir(exist_ok=True)
        torch.save(ckpt_io.capture_rng(), tmp / "rng" / f"rank_{self.rank}.pt")
        acc.wait_for_everyone()
        final = self.ckpts / f"{step:06d}"
        if self.is_main:
            self.model.save_pretrained(tmp / "model")
            save_file(self._trainable_state(), str(tmp / "trainable.safetensors"))
            torch.save({"optimizer": self.optimizer.state_dict(),
                        "lr_scheduler": self.lr_scheduler.state_dict(), "step": step},
                       tmp / "training_state.pt")
            (tmp / "trainer_state.json").write_text(json.dumps({
                "step": step, "samples_seen": self.samples_seen, "world_size": self.world,
                "global_batch": self.global_batch, "seed": self.config.seed,
                "time": time.time()}, indent=1))
            final = ckpt_io.commit(self.ckpts, tmp, step, self.config.checkpoint.keep)
            log.info("checkpoint %s written", final)
        acc.wait_for_everyone()
        for cb in self.on_checkpoint:
            cb(self, step, final)
        return final

    def _load_checkpoint(self, path: Path) -> None:
        from safetensors.torch import load_file

        try:
            state = load_file(str(path / "trainable.safetensors"))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"cannot read {path / 'trainable.safetensors'}: {err}") from err
        named = dict(self.model.named_parameters())
        expected = {n for n, p in named.items() if p.requires_grad}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise CheckpointError(f"checkpoint {path} does not fit this model: missing "
                                  f"{missing[:5]}, unexpected {extra[:5]}")
        with torch.no_grad():
            for n, t in state.items():
                named[n].copy_(t)
        ts = ckpt_io.load_state(path / "training_state.pt")
        self.optimizer.load_state_dict(ts["optimizer"])
        self.lr_scheduler.load_state_dict(ts["lr_scheduler"])
        self.step = int(ts["step"])
        rng = path / "rng" / f"rank_{self.rank}.pt"
        if rng.is_file():
            self._rng_state = ckpt_io.load_state(rng)
        else:
            log.warning("%s has no RNG state for process %d (different process count?); data "
                        "order and noise stay exact, other random draws do not", path, self.rank)

    # ------------------------------------------------------------------ loop
    @property
    def global_batch(self) -> int:
        c = self.config
        return c.batch_size * self.world * c.grad_accum

    def _loader(self, sampler: StepBatches):
        g = torch.Generator().manual_seed(self.config.seed)  # keeps the global RNG untouched
        return torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler,
                                           collate_fn=_collate(),
                                           num_workers=self.config.num_workers, generator=g)

    def fit(self) -> dict[str, Any]:
        """Train to ``config.steps``; returns a summary (final loss, steps, clips/s)."""
        cfg, acc = self.config, self.accelerator
        if self.is_main:
            ckpt_io.clean_stale(self.ckpts)
            record_start(self.out, cfg, data=self.data_path, dataset=self._dataset_info(),
                         world_size=self.world,
                         resumed_from=str(self.resume_from) if self.resume_from else None,
                         start_step=self.step)
        acc.wait_for_everyone()
        sampler = StepBatches(len(self.dataset), seed=cfg.seed, batch_size=cfg.batch_size,
                              grad_accum=cfg.grad_accum, world_size=self.world, rank=self.rank,
                              start_step=self.step, steps=cfg.steps)
        batches = iter(self._loader(sampler))
        if self._rng_state is not None:
            ckpt_io.restore_rng(self._rng_state)
        logger = RunLogger(self.out, cfg, self.step) if self.is_main else None
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=self.step, desc="train", unit="step",
                   dynamic_ncols=True, disable=not (self.is_main and cfg.log.progress))
        summary: dict[str, Any] = {"start_step": self.step}
        micro_ids = sampler.micro_ids()
        self.loss_module.train()
        last_loss = math.nan
        t_run, steps_run = 0.0, 0
        try:
            while self.step < cfg.steps:
                t0 = time.perf_counter()
                losses, grad_norm = self.optimizer_step(batches, micro_ids, self.step)
                self.step += 1
                self.samples_seen += self.global_batch
                dt = time.perf_counter() - t0
                t_run, steps_run = t_run + dt, steps_run + 1
                last_loss = float(losses[0])
                bar.update(1)
                bar.set_postfix(loss=f"{last_loss:.4f}", clips_s=f"{self.global_batch / dt:.2f}")
                if logger is not None and (self.step % cfg.log.every == 0
                                           or self.step == cfg.steps):
                    logger.scalars(self.step, {
                        "train/loss": last_loss, "train/mse": float(losses[1]),
                        "train/lr": float(self.lr_scheduler.get_last_lr()[0]),
                        "train/grad_norm": float(grad_norm) if grad_norm is not None
                        else math.nan,
                        "throughput/clips_per_s": self.global_batch / dt,
                        "throughput/step_s": dt, "train/samples_seen": self.samples_seen,
                        **({"cache/latent_hits": self.latent_cache.hits,
                            "cache/latent_misses": self.latent_cache.misses}
                           if self.latent_cache is not None else {})})
                every = cfg.log.sample_every
                if logger is not None and cfg.log.sample_clips > 0 and (
                        (every > 0 and self.step % every == 0)
                        or (every >= 0 and self.step == cfg.steps)):
                    self._log_samples(logger)
                if self.step % cfg.checkpoint.every == 0 or self.step == cfg.steps:
                    self.save_checkpoint()
        finally:
            bar.close()
            if logger is not None:
                logger.close()
        summary.update(step=self.step, loss=last_loss,
                       clips_per_s=(steps_run * self.global_batch / t_run) if t_run else None,
                       run=str(self.out), is_main=self.is_main)
        return summary

    def optimizer_step(self, batches, micro_ids: list[int], step: int):
        """One optimizer step on the next micro-batches of ``batches`` (noise of ``step``).

        Returns:
            (losses, grad_norm): losses a (2,) tensor (weighted loss, mse) reduced over
            processes; grad_norm before clipping (None without clipping).
        """
        cfg, acc = self.config, self.accelerator
        loss_sum = torch.zeros((), device=acc.device)
        mse_sum = torch.zeros((), device=acc.device)
        for a, m in enumerate(micro_ids):
            batch = next(batches)
            lw = self._loss_weight(batch)
            if lw is not None:
                batch["loss_weight"] = lw
            batch = {k: (v.to(acc.device, non_blocking=True) if isinstance(v, torch.Tensor)
                         else v) for k, v in batch.items()}
            gen = torch.Generator().manual_seed(micro_seed(cfg.seed, step, m))
            sync = a == len(micro_ids) - 1
            ctx = nullcontext() if sync else acc.no_sync(self.loss_module)
            with ctx, acc.autocast():
                out = self.loss_module(batch, gen)
                acc.backward(out["loss"] / cfg.grad_accum)
            loss_sum += out["loss"].detach().float()
            mse_sum += out["mse"].detach().float()
        grad_norm = None
        if cfg.optim.max_grad_norm is not None:
            grad_norm = acc.clip_grad_norm_(self.model.trainable_parameters(),
                                            cfg.optim.max_grad_norm)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        losses = acc.reduce(torch.stack([loss_sum, mse_sum]) / cfg.grad_accum, reduction="mean")
        return losses, grad_norm

    def set_steps(self, steps: int) -> None:
        """Change the run length before ``fit`` (a fresh run): the config and the lr schedule
        (built for the old length) follow.

        Raises:
            ConfigError: called on a resumed run or after training started.
        """
        if self.step != 0 or self.resume_from is not None:
            raise ConfigError("set_steps is only for a fresh run before fit()")
        from diffusers.optimization import get_scheduler

        self.config = self.config.replace(steps=int(steps))
        cfg = self.config
        self.lr_scheduler = get_scheduler(cfg.optim.scheduler, self.optimizer,
                                          num_warmup_steps=cfg.optim.warmup_steps,
                                          num_training_steps=cfg.steps)

    def _log_samples(self, logger: "RunLogger") -> None:
        from vap_ros.train.evaluate import clip_uint8, predict_clip
        from vap_ros.train.video import side_by_side

        cfg = self.config
        self.model.eval()
        fps = float(self.model.config.fps)
        for i in range(min(cfg.log.sample_clips, len(self.dataset))):
            clip = clip_uint8(self.dataset, i)
            pred = predict_clip(self.model, clip, steps=cfg.log.sample_steps, seed=cfg.seed)
            for v in range(pred.shape[0]):
                frames = side_by_side(clip["video"][v], pred[v], clip["prompts"][v], scale=2)
                logger.video(self.step, f"samples/clip{i}_view{v}", frames, fps)
        self.model.train()


def train(config: TrainConfig | None, dataset, out: str | Path, *, resume: bool = False,
          data_path: str | None = None, on_checkpoint: tuple[Callback, ...] = ()) -> dict:
    """Build a ``Trainer`` and run it; returns its summary."""
    trainer = Trainer(config, dataset, out, resume=resume, data_path=data_path,
                      on_checkpoint=on_checkpoint)
    return trainer.fit()


def load_jsonl(run: str | Path) -> list[dict]:
    """The logged training scalars of a run (``logs/train.jsonl``)."""
    path = Path(run) / "logs" / "train.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]

