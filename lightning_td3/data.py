"""TD3DataModule: env + rollout worker + replay, served to Lightning as an IterableDataset.

Everything the data side must resume exactly lives in `state_dict()` (counters, exploration credit,
RNG states, replay metadata, the running episode); the replay arrays go to a sidecar file beside
the checkpoint (written by `EnvStepCheckpoint`), referenced from the checkpoint by name.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from lightning_td3.envs.factory import make_env
from lightning_td3.replay.buffer import FrameReplayBuffer
from lightning_td3.replay.stream import ReplayStream
from lightning_td3.rollout.episodes import EpisodeStats
from lightning_td3.rollout.evaluation import EVAL_SEED_OFFSET, EvalEpisodes
from lightning_td3.rollout.exploration import ExplorationConfig, WarmupConfig
from lightning_td3.rollout.worker import RolloutWorker


class ReplaySidecarError(RuntimeError):
    """A checkpoint's replay sidecar is missing or unreadable."""


class TD3DataModule(L.LightningDataModule):
    """Streams transitions from a rollout worker into a frame replay and batches out of it.

    Args:
        env: registered env name (`racetrack`, `carla`, `gym:<id>`) or a class path.
        env_kwargs: keyword arguments of the env (see the env's docstring).
        eval_env_kwargs: overrides for the separate evaluation env (defaults to `env_kwargs`).
        frame_stack: frames per observation, stacked by the pipeline.
        buffer_size: replay capacity in transitions.
        batch_size: transitions per update.
        learning_starts: warm-up env steps before the first update.
        env_steps_per_update: env steps per gradient update (fractions such as 0.5 work).
        max_env_steps: training length in env steps.
        n_step: n-step returns (1 = plain TD3).
        gamma: discount (linked from the model).
        warmup: warm-up action distribution.
        exploration: Gaussian exploration noise schedule.
        eval_episodes: deterministic episodes per evaluation.
        replay_device: where the replay ring lives (`cpu` or `cuda`).
        seed: seeds env, warm-up, exploration and sampling.
        allow_empty_replay_on_resume: resume with an empty replay when the sidecar is missing/corrupt.
    """

    def __init__(
        self,
        env: str = "racetrack",
        env_kwargs: dict[str, Any] | None = None,
        eval_env_kwargs: dict[str, Any] | None = None,
        frame_stack: int = 4,
        buffer_size: int = 100_000,
        batch_size: int = 256,
        learning_starts: int = 10_000,
        env_steps_per_update: float = 1.0,
        max_env_steps: int = 1_000_000,
        n_step: int = 1,
        gamma: float = 0.99,
        warmup: WarmupConfig = WarmupConfig(),  # noqa: B008 - frozen-by-convention config value
        exploration: ExplorationConfig = ExplorationConfig(),  # noqa: B008
        eval_episodes: int = 10,
        replay_device: str = "cpu",
        seed: int = 0,
        allow_empty_replay_on_resume: bool = False,
    ) -> None:
        super().__init__()
        _check(frame_stack >= 1, f"frame_stack must be >= 1, got {frame_stack}")
        _check(batch_size >= 1, f"batch_size must be >= 1, got {batch_size}")
        _check(buffer_size >= batch_size, f"buffer_size ({buffer_size}) must be >= batch_size ({batch_size})")
        _check(max_env_steps >= 1, f"max_env_steps must be >= 1, got {max_env_steps}")
        _check(learning_starts >= 1, f"learning_starts must be >= 1, got {learning_starts}")
        _check(
            learning_starts <= max_env_steps,
            f"learning_starts ({learning_starts}) must be <= max_env_steps ({max_env_steps})",
        )
        _check(
            learning_starts >= batch_size,
            f"learning_starts ({learning_starts}) must be >= batch_size ({batch_size}): the first batch needs data",
        )
        _check(env_steps_per_update > 0, f"env_steps_per_update must be > 0, got {env_steps_per_update}")
        _check(n_step >= 1, f"n_step must be >= 1, got {n_step}")
        _check(0.0 < gamma <= 1.0, f"gamma must be in (0, 1], got {gamma}")
        _check(eval_episodes >= 0, f"eval_episodes must be >= 0, got {eval_episodes}")
        self.env_name = env
        self.env_kwargs = dict(env_kwargs or {})
        self.eval_env_kwargs = {**self.env_kwargs, **(eval_env_kwargs or {})}
        self.frame_stack = frame_stack
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.learning_starts = learning_starts
        self.env_steps_per_update = env_steps_per_update
        self.max_env_steps = max_env_steps
        self.n_step = n_step
        self.gamma = gamma
        self.warmup = warmup
        self.exploration = exploration
        self.eval_episodes = eval_episodes
        self.replay_device = replay_device
        self.seed = seed
        self.allow_empty_replay_on_resume = allow_empty_replay_on_resume

        # The env is built here so the model's input sizes can be linked from its spaces.
        self.env = _make_env(env, self.env_kwargs)
        obs_space = self.env.observation_space
        self.frame_shape: tuple[int, int] = tuple(obs_space["image"].shape[1:])  # type: ignore[assignment]
        self.vector_dim = int(obs_space["vector"].shape[0])
        self.action_dim = int(self.env.action_space.shape[0])
        self.eval_env = None
        self.buffer: FrameReplayBuffer | None = None
        self.worker: RolloutWorker | None = None
        self.stream: ReplayStream | None = None
        self.replay_sidecar: str | None = None
        self.finished_episodes: list[EpisodeStats] = []

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.frame_stack, *self.frame_shape)

    @property
    def env_steps(self) -> int:
        return 0 if self.worker is None else self.worker.env_steps

    @property
    def episodes(self) -> int:
        return 0 if self.worker is None else self.worker.episodes

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.buffer is None:
            self.buffer = self._new_buffer()
            self.worker = RolloutWorker(
                self.env,
                self.buffer,
                frame_stack=self.frame_stack,
                learning_starts=self.learning_starts,
                warmup=self.warmup,
                exploration=self.exploration,
                seed=self.seed,
                on_episode_end=self.finished_episodes.append,
            )
            self.stream = ReplayStream(
                self.worker,
                self.buffer,
                policy=self._policy,
                batch_size=self.batch_size,
                env_steps_per_update=self.env_steps_per_update,
                learning_starts=self.learning_starts,
                max_env_steps=self.max_env_steps,
                on_exhausted=self._stop_training,
            )
        if stage in ("fit", "validate", "test") and self.eval_env is None and self.eval_episodes > 0:
            self.eval_env = _make_env(self.env_name, self.eval_env_kwargs)

    def _new_buffer(self) -> FrameReplayBuffer:
        return FrameReplayBuffer(
            capacity=self.buffer_size,
            frame_shape=self.frame_shape,
            vector_dim=self.vector_dim,
            action_dim=self.action_dim,
            frame_stack=self.frame_stack,
            n_step=self.n_step,
            gamma=self.gamma,
            device=self.replay_device,
            seed=self.seed,
        )

    def _stop_training(self) -> None:
        self.trainer.should_stop = True

    def _policy(self) -> Any:
        return self.trainer.lightning_module

    def _loader(self, dataset: Any) -> DataLoader:
        # a private generator: creating iterators must not consume the global torch RNG (exact resume)
        return DataLoader(dataset, batch_size=None, num_workers=0, generator=torch.Generator())

    def train_dataloader(self) -> DataLoader:
        assert self.stream is not None, "setup('fit') builds the stream"
        return self._loader(self.stream)

    def _eval_loader(self) -> DataLoader:
        if self.eval_env is None:
            return self._loader([])
        seed = self.seed + EVAL_SEED_OFFSET
        episodes = EvalEpisodes(self.eval_env, self._policy, self.eval_episodes, self.frame_stack, seed)
        return self._loader(episodes)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader()

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader()

    def pop_finished_episodes(self) -> list[EpisodeStats]:
        episodes, self.finished_episodes[:] = list(self.finished_episodes), []
        return episodes

    # -- checkpointing ---------------------------------------------------------------------------
    def save_replay(self, path: str | os.PathLike) -> None:
        """Writes the replay arrays (atomically) to a sidecar the next checkpoint will reference."""
        assert self.buffer is not None
        self.buffer.save(path)
        self.replay_sidecar = Path(path).name

    def state_dict(self) -> dict[str, Any]:
        if self.worker is None or self.buffer is None or self.stream is None:
            return {}
        return {
            "worker": self.worker.state_dict(),
            "stream": self.stream.state_dict(),
            "buffer": self.buffer.state_dict(),
            "replay_sidecar": self.replay_sidecar,
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": _numpy_global_state(),
                "python": random.getstate(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state or self.worker is None:  # validate/test need no training state
            return
        assert self.worker is not None and self.buffer is not None and self.stream is not None
        replay_restored = self._load_replay(state)
        self.worker.load_state_dict(state["worker"])
        if not replay_restored:
            self.worker.drop_episode()
        self.stream.load_state_dict(state["stream"])
        self.replay_sidecar = state["replay_sidecar"]
        torch.set_rng_state(state["rng"]["torch"])
        _set_numpy_global_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])

    def _load_replay(self, state: dict[str, Any]) -> bool:
        assert self.buffer is not None and self.worker is not None and self.stream is not None
        ckpt_path = self.trainer.ckpt_path if self.trainer is not None else None
        sidecar = state["replay_sidecar"]
        path = Path(ckpt_path).parent / sidecar if (ckpt_path and sidecar) else None
        try:
            if path is None:
                raise ReplaySidecarError("the checkpoint references no replay sidecar")
            self.buffer.load(path)
            self.buffer.load_state_dict(state["buffer"])
            return True
        except Exception as err:  # missing, truncated or mismatched sidecar
            if not self.allow_empty_replay_on_resume:
                raise ReplaySidecarError(
                    f"cannot restore the replay from {path}: {err} "
                    "(set data.allow_empty_replay_on_resume=true to continue with an empty replay)"
                ) from err
            self.buffer = self.worker.buffer = self.stream.buffer = self._new_buffer()
            return False


def _numpy_global_state() -> dict[str, Any]:
    state = np.random.get_state(legacy=False)
    state["state"]["key"] = torch.from_numpy(state["state"]["key"].astype(np.int64))
    return state


def _set_numpy_global_state(state: dict[str, Any]) -> None:
    state = {**state, "state": {**state["state"], "key": state["state"]["key"].numpy().astype(np.uint32)}}
    np.random.set_state(state)


def _make_env(name: str, kwargs: dict[str, Any]) -> Any:
    try:
        return make_env(name, **kwargs)
    except TypeError as err:  # an unknown or mistyped env keyword
        raise ValueError(f"env {name!r}: {err}") from err


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
