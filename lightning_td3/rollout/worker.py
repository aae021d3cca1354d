"""The rollout worker: steps one env with the current policy and feeds the replay buffer.

It owns the acting-side frame stack (the replay rebuilds its own stacks from single frames), the
warm-up / exploration choice of actions and the per-episode statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from lightning_td3.rollout.episodes import EpisodeStats, FrameStacker
from lightning_td3.rollout.exploration import ExplorationConfig, WarmupConfig, WarmupPolicy


class Policy(Protocol):
    def act(self, observation: dict[str, np.ndarray], explore: bool = False, noise_std: float = 0.1) -> np.ndarray: ...


class RolloutWorker:
    """Checkpoint state holds tensors and plain values only, so checkpoints load with `weights_only=True`."""

    def __init__(
        self,
        env: gym.Env,
        buffer: Any,
        frame_stack: int,
        learning_starts: int,
        warmup: WarmupConfig,
        exploration: ExplorationConfig,
        seed: int,
        on_episode_end: Callable[[EpisodeStats], None] | None = None,
    ) -> None:
        self.env = env
        self.buffer = buffer
        self.learning_starts = learning_starts
        self.exploration = exploration
        self.seed = seed
        self.on_episode_end = on_episode_end
        self.rng = np.random.default_rng(seed)
        self.warmup = WarmupPolicy(warmup, self.rng, env)
        self.stacker = FrameStacker(frame_stack)
        self.env_steps = 0
        self.episodes = 0
        self.episode = EpisodeStats()
        self.last_episode: EpisodeStats | None = None
        self._obs: dict[str, np.ndarray] | None = None
        self._first_reset = True

    @property
    def in_warmup(self) -> bool:
        return self.env_steps < self.learning_starts

    @property
    def noise_std(self) -> float:
        return self.exploration.std_at(self.env_steps - self.learning_starts)

    def _start_episode(self) -> None:
        obs, _ = self.env.reset(seed=self.seed if self._first_reset else None)
        self._first_reset = False
        self._obs = obs
        self.stacker.reset(obs["image"])
        self.buffer.start_episode(obs)
        self.warmup.reset()
        self.episode = EpisodeStats()

    def observation(self) -> dict[str, np.ndarray]:
        """The stacked observation the policy sees now."""
        assert self._obs is not None
        return {"image": self.stacker.stacked(), "vector": self._obs["vector"]}

    def step(self, n: int, policy: Policy) -> list[EpisodeStats]:
        """Performs n env steps; returns the episodes that finished."""
        finished = []
        for _ in range(n):
            if self._obs is None:
                self._start_episode()
            if self.in_warmup:
                action = self.warmup(self._obs)
            else:
                action = policy.act(self.observation(), explore=True, noise_std=self.noise_std)
            next_obs, reward, terminated, truncated, info = self.env.step(action)
            self.env_steps += 1
            self.buffer.add(action, float(reward), next_obs, bool(terminated), bool(truncated))
            self.episode.update(float(reward), info)
            self.stacker.push(next_obs["image"])
            self._obs = next_obs
            if terminated or truncated:
                self.episodes += 1
                self.last_episode = self.episode
                finished.append(self.episode)
                if self.on_episode_end is not None:
                    self.on_episode_end(self.episode)
                self._obs = None
        return finished

    def drop_episode(self) -> None:
        """Forgets the running episode; the next step starts a fresh one."""
        self._obs = None
        self.episode = EpisodeStats()

    # -- resumable state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        get_env_state = getattr(self.env.unwrapped, "get_state", None)
        in_episode = self._obs is not None
        return {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "rng": self.rng.bit_generator.state,
            "first_reset": self._first_reset,
            "obs": {k: torch.from_numpy(np.array(v)) for k, v in self._obs.items()} if in_episode else None,
            "frames": torch.from_numpy(np.stack(self.stacker.frames)) if in_episode else None,
            "episode": self.episode.state_dict(),
            "last_episode": None if self.last_episode is None else self.last_episode.state_dict(),
            "env_state": get_env_state() if (in_episode and get_env_state is not None) else None,
            "env_rng": _env_rng_state(self.env),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.env_steps = state["env_steps"]
        self.episodes = state["episodes"]
        self.rng.bit_generator.state = state["rng"]
        self._first_reset = state["first_reset"]
        self.episode = EpisodeStats.from_state_dict(state["episode"])
        last = state["last_episode"]
        self.last_episode = None if last is None else EpisodeStats.from_state_dict(last)
        _set_env_rng_state(self.env, state["env_rng"])
        self._obs = None
        if state["obs"] is not None and state["env_state"] is not None:
            # exact: the simulator continues the very episode that was running
            self.env.unwrapped.set_state(state["env_state"])
            self._obs = {k: v.numpy() for k, v in state["obs"].items()}
            self.stacker.frames.clear()
            self.stacker.frames.extend(state["frames"].numpy())
        elif state["obs"] is not None:
            # the simulator cannot be restored mid-episode (e.g. CARLA): that episode ends here as truncated
            self.buffer.abandon_episode()
            self.episode = EpisodeStats()


def _env_rng_state(env: gym.Env) -> dict[str, Any] | None:
    rng = getattr(env.unwrapped, "_np_random", None)
    return None if rng is None else rng.bit_generator.state


def _set_env_rng_state(env: gym.Env, state: dict[str, Any] | None) -> None:
    if state is not None and getattr(env.unwrapped, "_np_random", None) is not None:
        env.unwrapped._np_random.bit_generator.state = state
