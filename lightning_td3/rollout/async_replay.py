"""The replay of asynchronous rollout: one FrameReplayBuffer shard per worker.

Why shards: the buffer stores an episode in consecutive positions and has one episode cursor, while
K workers produce K interleaved episode streams. A shard per worker keeps the buffer untouched (its
tests, file format and n-step logic) and each worker's episodes contiguous. A batch draws its
elements from the shards in proportion to their sampleable sizes (a multinomial split), which is
uniform over all sampleable transitions, as one buffer would be.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lightning_td3.replay.buffer import FrameReplayBuffer


class ShardedReplay:
    def __init__(self, shards: list[FrameReplayBuffer], seed: int) -> None:
        if not shards:
            raise ValueError("ShardedReplay needs at least one shard")
        self.shards = shards
        self._rng = np.random.default_rng([seed, len(shards)])  # a stream apart from a shard seeded `seed`

    def __len__(self) -> int:
        return sum(len(shard) for shard in self.shards)

    def __getitem__(self, index: int) -> FrameReplayBuffer:
        return self.shards[index]

    @property
    def num_added(self) -> int:
        return sum(shard.num_added for shard in self.shards)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        sizes = np.array([len(shard) for shard in self.shards], dtype=np.float64)
        if sizes.sum() == 0:
            raise ValueError("cannot sample: the replay holds no complete transition yet")
        counts = self._rng.multinomial(batch_size, sizes / sizes.sum())
        parts = [shard.sample(int(n)) for shard, n in zip(self.shards, counts, strict=True) if n > 0]
        if len(parts) == 1:
            return parts[0]
        return {key: _cat([part[key] for part in parts]) for key in parts[0]}

    def state_dict(self) -> dict[str, Any]:
        return {"shards": [shard.state_dict() for shard in self.shards], "rng_state": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["shards"]) != len(self.shards):
            raise ValueError(
                f"the checkpoint's replay has {len(state['shards'])} worker shards but this run has "
                f"{len(self.shards)}: resume with the same data.rollout_workers"
            )
        for shard, shard_state in zip(self.shards, state["shards"], strict=True):
            shard.load_state_dict(shard_state)
        self._rng.bit_generator.state = state["rng_state"]


def _cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """torch.cat that keeps a pinned result pinned (the shards pin their batches for a CUDA learner)."""
    if tensors[0].device.type == "cpu" and tensors[0].is_pinned():
        shape = (sum(t.shape[0] for t in tensors), *tensors[0].shape[1:])
        out = torch.empty(shape, dtype=tensors[0].dtype, pin_memory=True)
        return torch.cat(tensors, out=out)
    return torch.cat(tensors)
