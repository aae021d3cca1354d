"""How actions are chosen before and after `learning_starts`.

The reference system sampled throttle/brake uniformly during warm-up: throttle and brake cancel out,
the car never moved and the replay held nothing but a parked vehicle. `forward` is the default here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

WarmupKind = Literal["uniform", "forward", "classical"]


@dataclass(frozen=True)
class WarmupConfig:
    """Actions for the first `learning_starts` env steps.

    uniform: the whole action box (kept for comparison; nets to zero force).
    forward: steer ~ U(-steer_scale, steer_scale), throttle_brake ~ U(throttle_low, throttle_high).
      The default keeps some braking (throttle_low < 0): a critic that never saw a brake action
      extrapolates its value freely, and the actor then finds "brake and stand still" attractive.
    classical: the PID + pure-pursuit controller on the vector observation, plus Gaussian noise.
    """

    kind: WarmupKind = "forward"
    steer_scale: float = 0.5
    throttle_low: float = -0.3
    throttle_high: float = 1.0
    noise_std: float = 0.3

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "forward", "classical"):
            raise ValueError(f"warmup.kind must be uniform, forward or classical, got {self.kind!r}")
        if not 0.0 <= self.steer_scale <= 1.0:
            raise ValueError(f"warmup.steer_scale must be in [0, 1], got {self.steer_scale}")
        if not -1.0 <= self.throttle_low <= self.throttle_high <= 1.0:
            raise ValueError(
                f"warmup needs -1 <= throttle_low <= throttle_high <= 1, got {self.throttle_low}, {self.throttle_high}"
            )
        if self.noise_std < 0:
            raise ValueError(f"warmup.noise_std must be >= 0, got {self.noise_std}")


@dataclass(frozen=True)
class ExplorationConfig:
    """Gaussian action noise after warm-up: `noise_std`, decaying linearly to `final_noise_std`
    over `decay_steps` env steps counted from `learning_starts` (constant when decay_steps is 0)."""

    noise_std: float = 0.2
    final_noise_std: float | None = None
    decay_steps: int = 0

    def __post_init__(self) -> None:
        if self.noise_std < 0 or (self.final_noise_std is not None and self.final_noise_std < 0):
            raise ValueError("exploration noise std must be >= 0")
        if self.decay_steps < 0:
            raise ValueError(f"exploration.decay_steps must be >= 0, got {self.decay_steps}")

    def std_at(self, steps_after_warmup: int) -> float:
        if self.final_noise_std is None or self.decay_steps == 0:
            return self.noise_std
        frac = min(max(steps_after_warmup, 0) / self.decay_steps, 1.0)
        return self.noise_std + frac * (self.final_noise_std - self.noise_std)


class WarmupPolicy:
    """Samples warm-up actions from its own seeded generator (part of the resumable state)."""

    def __init__(self, config: WarmupConfig, rng: np.random.Generator, env: Any = None) -> None:
        self.config = config
        self.rng = rng
        self._controller: Any = None
        if config.kind == "classical":
            from lightning_td3.baselines.classical import ClassicalController

            self._controller = ClassicalController.from_env(env)

    def reset(self) -> None:
        if self._controller is not None:
            self._controller.reset()

    def __call__(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        c = self.config
        if c.kind == "uniform":
            action = self.rng.uniform(-1.0, 1.0, size=2)
        elif c.kind == "forward":
            action = np.array(
                [self.rng.uniform(-c.steer_scale, c.steer_scale), self.rng.uniform(c.throttle_low, c.throttle_high)]
            )
        else:
            action = np.asarray(self._controller.act(observation), dtype=np.float64)
            action = action + self.rng.normal(0.0, c.noise_std, size=2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)
