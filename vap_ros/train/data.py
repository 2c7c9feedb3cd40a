"""Data order for training: a pure function of (seed, step), independent of the process count.

The clip stream is the concatenation of per-epoch permutations of the dataset (epoch e uses
``numpy.random.default_rng([seed, e])``). Optimizer step s consumes the global batch
``stream[s*G : (s+1)*G]`` with ``G = batch_size * world_size * grad_accum``, cut into
``world_size * grad_accum`` micro-batches of ``batch_size``; micro-batch ``m = a * world + rank``
goes to process ``rank`` at accumulation step ``a``. Resuming at step s therefore needs only s,
and 1 process with grad_accum 2 sees exactly what 2 processes with grad_accum 1 see.
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import numpy as np

from vap_ros.errors import ConfigError

__all__ = ["StepBatches", "micro_seed"]


def micro_seed(seed: int, step: int, micro: int) -> int:
    """A 63-bit seed for the diffusion noise of micro-batch ``micro`` of optimizer ``step``."""
    digest = hashlib.sha256(f"vap_ros.train:{seed}:{step}:{micro}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class StepBatches:
    """Batch sampler (for ``DataLoader(batch_sampler=...)``) of one process.

    Yields, for every optimizer step from ``start_step`` to ``steps - 1``, that process's
    ``grad_accum`` micro-batches (lists of ``batch_size`` dataset indices), in order.
    """

    def __init__(self, num_clips: int, *, seed: int, batch_size: int, grad_accum: int,
                 world_size: int, rank: int, start_step: int, steps: int):
        if num_clips < 1:
            raise ConfigError(f"the dataset has {num_clips} clips: expected at least one")
        self.n, self.seed = int(num_clips), int(seed)
        self.batch_size, self.grad_accum = int(batch_size), int(grad_accum)
        self.world_size, self.rank = int(world_size), int(rank)
        self.start_step, self.steps = int(start_step), int(steps)
        self._perm_epoch = -1
        self._perm = np.zeros(0, np.int64)  # the permutation of epoch _perm_epoch

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world_size * self.grad_accum

    def _stream(self, pos: int) -> int:
        epoch, i = divmod(pos, self.n)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perm_epoch = epoch
        return int(self._perm[i])

    def micro_batch(self, step: int, micro: int) -> list[int]:
        start = step * self.global_batch + micro * self.batch_size
        return [self._stream(p) for p in range(start, start + self.batch_size)]

    def micro_ids(self) -> list[int]:
        """Global micro-batch ids of this process within one step, in accumulation order."""
        return [a * self.world_size + self.rank for a in range(self.grad_accum)]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.steps):
            for m in self.micro_ids():
                yield self.micro_batch(step, m)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step) * self.grad_accum
