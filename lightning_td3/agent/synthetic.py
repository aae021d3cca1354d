"""Random replay batches in the fixed batch format, to drive the learner without an environment.

Used by the tests and by benchmarks/learner_overhead.py (no env, no replay: only the update).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import IterableDataset


def synthetic_batch(
    batch_size: int,
    image_shape: tuple[int, int, int] = (4, 84, 84),
    vector_dim: int = 0,
    action_dim: int = 2,
    reward_scale: float = 1.0,
    gamma: float = 0.99,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One batch: uniform uint8 frames, N(0, 1) vectors, actions in [-1, 1], N(0, reward_scale) rewards,
    10 % terminated transitions, discount gamma (one-step)."""
    g = generator

    def images() -> torch.Tensor:
        return torch.randint(0, 256, (batch_size, *image_shape), dtype=torch.uint8, generator=g)

    return {
        "obs_image": images(),
        "obs_vector": torch.randn(batch_size, vector_dim, generator=g),
        "action": torch.rand(batch_size, action_dim, generator=g) * 2 - 1,
        "reward": torch.randn(batch_size, generator=g) * reward_scale,
        "next_obs_image": images(),
        "next_obs_vector": torch.randn(batch_size, vector_dim, generator=g),
        "terminated": (torch.rand(batch_size, generator=g) < 0.1).float(),
        "discount": torch.full((batch_size,), gamma),
    }


class SyntheticBatches(IterableDataset):
    """`num_batches` batches (use with DataLoader(batch_size=None)); `pool` > 0 cycles over that many
    pre-made batches so that generating data costs nothing inside a timed loop."""

    def __init__(self, num_batches: int, batch_size: int, seed: int = 0, pool: int = 0,
                 **batch_kwargs: object) -> None:  # fmt: skip
        self.num_batches, self.batch_size, self.seed, self.pool = num_batches, batch_size, seed, pool
        self.batch_kwargs = batch_kwargs

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        make = lambda: synthetic_batch(self.batch_size, generator=g, **self.batch_kwargs)
        made = [make() for _ in range(self.pool)]
        for i in range(self.num_batches):
            yield made[i % self.pool] if self.pool else make()

    def __len__(self) -> int:
        return self.num_batches
