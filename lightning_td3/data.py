"""TD3DataModule: env + rollout worker + replay, served to Lightning as an IterableDataset.

Everything the data side must resume exactly lives in `state_dict()` (counters, exploration credit,
RNG states, replay metadata, the running episode); the replay arrays go to a sidecar file beside
the checkpoint (written by `EnvStepCheckpoint`), referenced from the checkpoint by name.

Scale-out (docs/SCALE_OUT.md): `rollout_workers: K > 0` steps K envs in worker processes, each
feeding its own replay shard (`RolloutPool`, `AsyncReplayStream`); under DDP every rank has its own
env(s), replay and seeds (rollout slot = rank * max(K, 1) + worker), its own sidecar file(s)
(`env_steps=N.rank1.replay`, `env_steps=N.w0.replay`, ...) and its own entry in the checkpoint.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from lightning_td3.envs.factory import make_env
from lightning_td3.replay.buffer import FrameReplayBuffer
from lightning_td3.replay.stream import AsyncReplayStream, ReplayStream
from lightning_td3.rollout.async_pool import RolloutPool
from lightning_td3.rollout.async_replay import ShardedReplay
from lightning_td3.rollout.async_worker import WorkerSpec
from lightning_td3.rollout.episodes import EpisodeStats
from lightning_td3.rollout.evaluation import EVAL_SEED_OFFSET, EvalEpisodes
from lightning_td3.rollout.exploration import ExplorationConfig, WarmupConfig
from lightning_td3.rollout.worker import RolloutWorker

# The streams define __len__ on purpose (see replay/stream.py: no prefetch, exact resume) and are read
# with num_workers=0, so Lightning's caution about __len__ under multi-process loading does not apply.
warnings.filterwarnings("ignore", message="Your `IterableDataset` has `__len__` defined")
# Resuming mid-epoch is exact here: the datamodule's state (replay sidecar, env-step counters, the running
# episode, RNGs) restores the stream, not Lightning's DataLoader state, so its "not resumable" caution is wrong.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")

# Seeds of rollout slot g (a DDP rank in synchronous mode, or one worker): seed + SLOT_SEED_STRIDE * g,
# so slot 0 (a single process, or worker 0 of rank 0) keeps the plain seed.
SLOT_SEED_STRIDE = 1000


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
        rollout_workers: env worker processes per rank (0 = step the env in the training process).
        worker_env_overrides: env kwargs per rollout slot (rank * workers + worker), e.g. CARLA host/port.
        worker_port_stride: slot g uses env_kwargs port (and tm_port) + g * stride (0 = off).
        weight_sync_every: updates between actor-weight publications to the workers.
        rate_tolerance: env steps the workers may run ahead of the learner's schedule.
        worker_max_restarts: failures in a row (no finished episode between) before training stops.
        worker_restart_backoff: seconds before the first restart; doubles with each failure in a row.
        worker_timeout: seconds a claimed env step, an env start-up or a reset may take before the worker is
            killed and restarted.
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
        rollout_workers: int = 0,
        worker_env_overrides: list[dict[str, Any]] | None = None,
        worker_port_stride: int = 0,
        weight_sync_every: int = 100,
        rate_tolerance: int = 64,
        worker_max_restarts: int = 3,
        worker_restart_backoff: float = 1.0,
        worker_timeout: float = 120.0,
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
        _check(rollout_workers >= 0, f"rollout_workers must be >= 0, got {rollout_workers}")
        _check(
            buffer_size >= 2 * max(rollout_workers, 1),
            f"buffer_size ({buffer_size}) must be >= 2 per rollout worker ({rollout_workers})",
        )
        _check(weight_sync_every >= 1, f"weight_sync_every must be >= 1, got {weight_sync_every}")
        _check(rate_tolerance >= 1, f"rate_tolerance must be >= 1, got {rate_tolerance}")
        _check(worker_max_restarts >= 0, f"worker_max_restarts must be >= 0, got {worker_max_restarts}")
        _check(worker_restart_backoff >= 0, f"worker_restart_backoff must be >= 0, got {worker_restart_backoff}")
        _check(worker_timeout > 0, f"worker_timeout must be > 0, got {worker_timeout}")
        _check(worker_port_stride >= 0, f"worker_port_stride must be >= 0, got {worker_port_stride}")
        _check(
            worker_port_stride == 0 or "port" in (env_kwargs or {}),
            "worker_port_stride needs data.env_kwargs.port (the port of rollout slot 0)",
        )
        overrides = list(worker_env_overrides or [])
        _check(
            all(isinstance(o, dict) for o in overrides), "worker_env_overrides must be a list of env kwargs dicts"
        )
        _check(
            not overrides or len(overrides) >= max(rollout_workers, 1),
            f"worker_env_overrides has {len(overrides)} entries but each rank needs {max(rollout_workers, 1)}",
        )
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
        self.rollout_workers = rollout_workers
        self.worker_env_overrides = overrides
        self.worker_port_stride = worker_port_stride
        self.weight_sync_every = weight_sync_every
        self.rate_tolerance = rate_tolerance
        self.worker_max_restarts = worker_max_restarts
        self.worker_restart_backoff = worker_restart_backoff
        self.worker_timeout = worker_timeout
        self.rank, self.world_size = 0, 1
        self._rollout_seed = seed  # seed of this rank's rollout (slot seed in synchronous mode)

        # The env is built here so the model's input sizes can be linked from its spaces.
        self.env = _make_env(env, self.env_kwargs)
        obs_space = self.env.observation_space
        self.frame_shape: tuple[int, int] = tuple(obs_space["image"].shape[1:])  # type: ignore[assignment]
        self.vector_dim = int(obs_space["vector"].shape[0])
        self.action_dim = int(self.env.action_space.shape[0])
        self.eval_env = None
        self.buffer: FrameReplayBuffer | ShardedReplay | None = None
        self.worker: RolloutWorker | RolloutPool | None = None
        self.stream: ReplayStream | AsyncReplayStream | None = None
        self.replay_sidecar: str | list[str] | None = None
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

    @property
    def asynchronous(self) -> bool:
        return self.rollout_workers > 0

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.buffer is None:
            self._setup_ranks()
            if self.asynchronous:
                self._setup_async()
            else:
                self._setup_sync()
        if stage in ("fit", "validate", "test") and self.eval_env is None and self.eval_episodes > 0:
            self.eval_env = _make_env(self.env_name, self.eval_env_kwargs)

    def _setup_sync(self) -> None:
        slot_kwargs = self.slot_env_kwargs(self.rank)
        if slot_kwargs != self.env_kwargs:  # this rank's own simulator (DDP with a port stride / overrides)
            self.env.close()
            self.env = _make_env(self.env_name, slot_kwargs)
        self._rollout_seed = self.seed + SLOT_SEED_STRIDE * self.rank
        self.buffer = self._new_buffer()
        self.worker = RolloutWorker(
            self.env,
            self.buffer,
            frame_stack=self.frame_stack,
            learning_starts=self.learning_starts,
            warmup=self.warmup,
            exploration=self.exploration,
            seed=self._rollout_seed,
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
            on_batch=self._on_batch if self.world_size > 1 else None,
        )

    def _setup_async(self) -> None:
        self.env.close()  # only its spaces were needed; each worker builds its own env (CARLA: its own server)
        self._rollout_seed = self.seed + SLOT_SEED_STRIDE * self.rank * self.rollout_workers
        self.buffer = self._new_shards()
        self.worker = RolloutPool(
            self.rollout_workers,
            self._worker_spec,
            self.buffer,
            learning_starts=self.learning_starts,
            exploration=self.exploration,
            max_env_steps=self.max_env_steps,
            tolerance=self.rate_tolerance,
            max_restarts=self.worker_max_restarts,
            restart_backoff=self.worker_restart_backoff,
            worker_timeout=self.worker_timeout,
            on_episode_end=self.finished_episodes.append,
        )
        self.stream = AsyncReplayStream(
            self.worker,
            self.buffer,
            policy=self._policy,
            batch_size=self.batch_size,
            env_steps_per_update=self.env_steps_per_update,
            learning_starts=self.learning_starts,
            max_env_steps=self.max_env_steps,
            weight_sync_every=self.weight_sync_every,
            on_exhausted=self._stop_training,
            on_batch=self._on_batch,
        )

    def _setup_ranks(self) -> None:
        trainer = self.trainer
        if trainer is None:
            return
        self.rank, self.world_size = int(trainer.global_rank), int(trainer.world_size)
        strategy = trainer.strategy
        ddp_kwargs = getattr(strategy, "_ddp_kwargs", None)
        if self.world_size > 1 and isinstance(ddp_kwargs, dict) and not ddp_kwargs.get("find_unused_parameters"):
            # TD3 calls manual_backward twice per step (critic, then actor) and each backward reaches only
            # one network's parameters: DDP must be told to expect unused parameters in each backward.
            ddp_kwargs["find_unused_parameters"] = True

    def slot_env_kwargs(self, slot: int) -> dict[str, Any]:
        """Env kwargs of rollout slot `slot` (= rank * workers + worker): port stride, then overrides."""
        kwargs = dict(self.env_kwargs)
        if self.worker_port_stride:
            for key in ("port", "tm_port"):
                if key in kwargs:
                    kwargs[key] = int(kwargs[key]) + slot * self.worker_port_stride
        if self.worker_env_overrides:
            if slot >= len(self.worker_env_overrides):
                raise ValueError(
                    f"data.worker_env_overrides has {len(self.worker_env_overrides)} entries but rollout slot "
                    f"{slot} (rank {self.rank}) needs one: give one per rank and worker"
                )
            kwargs.update(self.worker_env_overrides[slot])
        return kwargs

    def _worker_spec(self, index: int, generation: int) -> WorkerSpec:
        slot = self.rank * self.rollout_workers + index
        return WorkerSpec(
            index=index,
            slot=slot,
            generation=generation,
            env=self.env_name,
            env_kwargs=self.slot_env_kwargs(slot),
            seed=self.seed + SLOT_SEED_STRIDE * slot + generation,
            frame_stack=self.frame_stack,
            learning_starts=self.learning_starts,
            warmup=self.warmup,
            exploration=self.exploration,
        )

    def _new_shards(self) -> ShardedReplay:
        capacity = math.ceil(self.buffer_size / self.rollout_workers)
        shards = [self._new_buffer(capacity, self._rollout_seed + SLOT_SEED_STRIDE * k)
                  for k in range(self.rollout_workers)]  # fmt: skip
        return ShardedReplay(shards, seed=self._rollout_seed)

    def _new_buffer(self, capacity: int | None = None, seed: int | None = None) -> FrameReplayBuffer:
        return FrameReplayBuffer(
            capacity=self.buffer_size if capacity is None else capacity,
            frame_shape=self.frame_shape,
            vector_dim=self.vector_dim,
            action_dim=self.action_dim,
            frame_stack=self.frame_stack,
            n_step=self.n_step,
            gamma=self.gamma,
            device=self.replay_device,
            seed=self._rollout_seed if seed is None else seed,
        )

    def _stop_training(self) -> None:
        self.trainer.should_stop = True

    def _policy(self) -> Any:
        return self.trainer.lightning_module

    def _on_batch(self) -> None:
        """Before each batch: scale-out progress every `log_every_n_steps` updates, at the update count.

        Runs on every rank at the same batches (the schedule is deterministic), so the cross-rank
        sums are collective calls every rank makes.
        """
        trainer = self.trainer
        module = None if trainer is None else trainer.lightning_module
        if module is None or trainer.log_every_n_steps < 1:
            return
        step = int(getattr(module, "updates", 0))
        if step % trainer.log_every_n_steps:
            return
        metrics: dict[str, float] = {}
        if isinstance(self.worker, RolloutPool):
            pool = self.worker
            acted = [v for v in pool.worker_versions() if v >= 0]
            metrics.update({
                "progress/policy_version": float(pool.policy_version),
                "progress/worker_policy_lag": float(step - min(acted)) if acted else 0.0,
                "progress/worker_restarts": float(pool.restarts),
                "progress/env_steps_ahead": float(pool.limiter.claimed() - pool.env_steps),
            })
        if self.world_size > 1:
            counts = torch.tensor([float(self.env_steps), float(self.episodes)])
            counts = trainer.strategy.reduce(counts, reduce_op="sum")
            metrics["progress/env_steps_all_ranks"] = float(counts[0])
            metrics["progress/episodes_all_ranks"] = float(counts[1])
        if trainer.logger is not None and metrics:
            trainer.logger.log_metrics(metrics, step=step)

    def teardown(self, stage: str) -> None:
        if stage == "fit" and isinstance(self.worker, RolloutPool):
            self.worker.close()

    def on_exception(self, exception: BaseException) -> None:
        if isinstance(self.worker, RolloutPool):
            self.worker.close()

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
        """Writes this rank's replay arrays (atomically) to the sidecar(s) the next checkpoint references.

        `path` is the single-process name (`env_steps=N.replay`); other ranks and worker shards tag it
        (`env_steps=N.rank1.replay`, `env_steps=N.w0.replay`), so each rank writes only its own files.
        """
        assert self.buffer is not None
        path = Path(path)
        if isinstance(self.buffer, ShardedReplay):
            names = []
            for k, shard in enumerate(self.buffer.shards):
                shard_path = sidecar_path(path, self.rank, k)
                shard.save(shard_path)
                names.append(shard_path.name)
            self.replay_sidecar = names
        else:
            rank_path = sidecar_path(path, self.rank, None)
            self.buffer.save(rank_path)
            self.replay_sidecar = rank_path.name

    def state_dict(self) -> dict[str, Any]:
        state = self._rank_state_dict()
        if self.world_size == 1 or not state:
            return state
        # Only global rank 0 writes the checkpoint, so it carries every rank's data state, plus a digest
        # of every rank's parameters: DDP keeps them identical, and a checkpoint is the place to check.
        import torch.distributed as dist

        mine = {"state": state, "param_digest": parameter_digest(self.trainer.lightning_module)}
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, mine)
        digests = [g["param_digest"] for g in gathered]
        if len(set(digests)) > 1:
            from lightning.pytorch.utilities import rank_zero_warn

            rank_zero_warn(f"DDP ranks hold different parameters (digests {digests}): gradients were not in sync")
        return {"world_size": self.world_size, "ranks": [g["state"] for g in gathered], "param_digests": digests}

    def _rank_state_dict(self) -> dict[str, Any]:
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
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.world_size:
            raise ValueError(
                f"the checkpoint was written by {saved_world} DDP rank(s) and this run has {self.world_size}: "
                f"resume it on the same world size (devices x nodes)"
            )
        if "ranks" in state:
            state = state["ranks"][self.rank]
        self._check_rollout_mode(state["worker"])
        replay_restored = self._load_replay(state)
        self.worker.load_state_dict(state["worker"])
        if not replay_restored and isinstance(self.worker, RolloutWorker):
            self.worker.drop_episode()
        self.stream.load_state_dict(state["stream"])
        self.replay_sidecar = state["replay_sidecar"]
        torch.set_rng_state(state["rng"]["torch"])
        _set_numpy_global_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])

    def _check_rollout_mode(self, worker_state: dict[str, Any]) -> None:
        saved = int(worker_state["num_workers"]) if worker_state.get("mode") == "async" else 0
        if saved != self.rollout_workers:
            raise ValueError(
                f"the checkpoint was written with data.rollout_workers={saved} but this run has "
                f"{self.rollout_workers}: resume with the same data.rollout_workers"
            )

    def _load_replay(self, state: dict[str, Any]) -> bool:
        assert self.buffer is not None and self.worker is not None and self.stream is not None
        ckpt_path = self.trainer.ckpt_path if self.trainer is not None else None
        sidecar = state["replay_sidecar"]
        folder = Path(ckpt_path).parent if ckpt_path else None
        path = None
        try:
            if folder is None or not sidecar:
                raise ReplaySidecarError("the checkpoint references no replay sidecar")
            if isinstance(self.buffer, ShardedReplay):
                for shard, name in zip(self.buffer.shards, sidecar, strict=True):
                    path = folder / name
                    shard.load(path)
            else:
                path = folder / sidecar
                self.buffer.load(path)
            self.buffer.load_state_dict(state["buffer"])
            return True
        except Exception as err:  # missing, truncated or mismatched sidecar
            if not self.allow_empty_replay_on_resume:
                raise ReplaySidecarError(
                    f"cannot restore the replay from {path}: {err} "
                    "(set data.allow_empty_replay_on_resume=true to continue with an empty replay)"
                ) from err
            if isinstance(self.worker, RolloutPool):
                self.buffer = self.worker.replay = self.stream.buffer = self._new_shards()
            else:
                self.buffer = self.worker.buffer = self.stream.buffer = self._new_buffer()
            return False


def sidecar_path(path: str | os.PathLike, rank: int, shard: int | None) -> Path:
    """`env_steps=N.replay` -> `env_steps=N[.rank{r}][.w{k}].replay` (rank 0 of a synchronous run: unchanged)."""
    path = Path(path)
    tags = ([f"rank{rank}"] if rank else []) + ([f"w{shard}"] if shard is not None else [])
    return path if not tags else path.with_name(".".join([path.stem, *tags]) + path.suffix)


def parameter_digest(module: torch.nn.Module) -> str:
    """sha256 of every tensor of the module's state dict, in key order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


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
