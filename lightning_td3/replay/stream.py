"""ReplayStream: the IterableDataset the Lightning trainer reads.

Each iteration first steps the env (`env_steps_per_update` steps per batch, fractional ratios carried
over as exact credit), then yields one batch sampled from the replay. The stream ends at
`max_env_steps` and then asks the trainer to stop (`on_exhausted`), so a finished run resumed with a
larger `max_env_steps` simply trains on.

The stream has a length (the batches of the whole run), so Lightning does not prefetch a batch: a
prefetched batch would step the env before a checkpoint is written and then be lost on resume. On
resume Lightning restores its batch count, so the length counts from the first batch, not from now.

AsyncReplayStream is the same schedule with env steps taken by worker processes (`RolloutPool`):
the replay holds exactly the synchronous stream's env-step count at every batch, whatever the
speed of the machine; only which policy version acted, and how the workers' steps interleave,
depend on timing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import torch
from torch.utils.data import IterableDataset

from lightning_td3.rollout.worker import Policy, RolloutWorker


class ReplayStream(IterableDataset):
    def __init__(
        self,
        worker: RolloutWorker,
        buffer: Any,
        policy: Callable[[], Policy],
        batch_size: int,
        env_steps_per_update: float,
        learning_starts: int,
        max_env_steps: int,
        on_exhausted: Callable[[], None] | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.on_batch = on_batch
        self.worker = worker
        self.buffer = buffer
        self.policy = policy
        self.batch_size = batch_size
        self.env_steps_per_update = Fraction(env_steps_per_update).limit_denominator(1000)
        self.learning_starts = learning_starts
        self.max_env_steps = max_env_steps
        self.credit = Fraction(0)
        self.on_exhausted = on_exhausted

    def __len__(self) -> int:
        return max(0, math.ceil((self.max_env_steps - self.learning_starts) / self.env_steps_per_update))

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker = self.worker
        if worker.env_steps < self.learning_starts:
            worker.step(self.learning_starts - worker.env_steps, self.policy())
        while worker.env_steps < self.max_env_steps:
            n = self._steps_before_batch()
            if n:
                worker.step(n, self.policy())
            if len(self.buffer) < self.batch_size:  # only after resuming with an emptied replay
                worker.step(self.batch_size - len(self.buffer), self.policy())
            if self.on_batch is not None:
                self.on_batch()
            yield self.buffer.sample(self.batch_size)
        if self.on_exhausted is not None:
            self.on_exhausted()

    def _steps_before_batch(self) -> int:
        """Env steps owed before the next batch: the whole part of the accumulated credit."""
        self.credit += self.env_steps_per_update
        whole = math.floor(self.credit)
        self.credit -= whole
        return min(whole, self.max_env_steps - self.worker.env_steps)

    def state_dict(self) -> dict[str, Any]:
        return {"credit": (self.credit.numerator, self.credit.denominator)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.credit = Fraction(*state["credit"])


class AsyncReplayStream(ReplayStream):
    """ReplayStream's schedule over a RolloutPool; republishes the actor every `weight_sync_every` updates."""

    def __init__(
        self,
        pool: Any,
        buffer: Any,
        policy: Callable[[], Any],
        batch_size: int,
        env_steps_per_update: float,
        learning_starts: int,
        max_env_steps: int,
        weight_sync_every: int,
        on_exhausted: Callable[[], None] | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(pool, buffer, policy, batch_size, env_steps_per_update, learning_starts, max_env_steps,
                         on_exhausted, on_batch)  # fmt: skip
        self.weight_sync_every = weight_sync_every

    @property
    def pool(self) -> Any:
        return self.worker

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        pool, module = self.pool, self.policy()
        pool.start(module, version=_updates(module))
        if pool.env_steps < self.learning_starts:
            pool.advance_to(self.learning_starts)
        while pool.env_steps < self.max_env_steps:
            pool.advance_to(pool.env_steps + self._steps_before_batch())
            while len(self.buffer) < self.batch_size:  # only after resuming with an emptied replay
                pool.advance_to(pool.env_steps + self.batch_size - len(self.buffer))
            updates = _updates(module)
            if updates - pool.policy_version >= self.weight_sync_every:
                pool.publish(module, updates)
            if self.on_batch is not None:
                self.on_batch()
            yield self.buffer.sample(self.batch_size)
        pool.close()
        if self.on_exhausted is not None:
            self.on_exhausted()


def _updates(module: Any) -> int:
    return int(getattr(module, "updates", 0))
