"""One asynchronous rollout worker process: its own env, seed, frame stack and exploration, acting
with a CPU copy of the actor that the learner republishes through shared memory.

Why a process per env: a simulator step (CARLA: tens of ms) then overlaps with the learner's updates,
and a crashed or hung simulator takes down only its worker, which the learner restarts.

What travels to the learner, over a one-way pipe per worker (the learner keeps the read end and a
thread drains it): ("start", obs) at each reset, ("step", action, reward, next_obs, terminated,
truncated, policy_version) per env step, ("episode", EpisodeStats state) at each episode end and
("error", message) before a crash. A pipe per worker (not one shared queue) because a worker killed
mid-write then corrupts only its own pipe: the learner sees EOF on it and nothing else.
"""

from __future__ import annotations

import copy
import os
import signal
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from lightning_td3.rollout.episodes import EpisodeStats, FrameStacker
from lightning_td3.rollout.exploration import ExplorationConfig, WarmupConfig, WarmupPolicy
from lightning_td3.rollout.rate_limiter import RateLimiter

WARMUP_VERSION = -1  # the policy version recorded for warm-up actions (no network involved)


class ActingPolicy(nn.Module):
    """The acting half of TD3 (the actor's encoder and the actor head), detached from the learner."""

    def __init__(self, encoder: nn.Module, actor: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.actor = actor

    @staticmethod
    def sources(module: Any) -> dict[str, torch.Tensor]:
        """The learner's tensors, keyed like this module's state dict (shared mode acts on the critic encoder)."""
        encoder = module.critic_encoder if module.shared else module.actor_encoder
        state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
        state.update({f"actor.{k}": v for k, v in module.actor.state_dict().items()})
        return state

    @classmethod
    def snapshot(cls, module: Any) -> ActingPolicy:
        """A CPU copy without the learner's hooks (the feature monitor hooks the live encoders) and
        uncompiled (one observation per call: torch.compile would cost a worker more than it saves)."""
        encoder = module.critic_encoder if module.shared else module.actor_encoder
        policy = cls(copy.deepcopy(encoder), copy.deepcopy(module.actor)).cpu().eval()
        for sub in policy.modules():
            for name, value in vars(sub).items():
                if "hook" in name and isinstance(value, dict):
                    value.clear()
            if callable(getattr(sub, "set_compiled", None)):
                sub.set_compiled(False)
        policy.requires_grad_(False)
        return policy

    @torch.no_grad()
    def act(
        self, observation: dict[str, np.ndarray], explore: bool, noise_std: float, generator: torch.Generator
    ) -> np.ndarray:
        """TD3.act for one observation, with exploration noise from the worker's own generator."""
        from lightning_td3.agent.td3 import TD3

        image = torch.as_tensor(np.asarray(observation["image"]))[None]
        vector = torch.as_tensor(np.asarray(observation["vector"], dtype=np.float32))[None]
        action = self.actor(TD3.encode_state(self.encoder, image, vector))
        if explore and noise_std > 0:
            noise = torch.randn(action.shape, generator=generator, dtype=action.dtype)
            action = (action + noise_std * noise).clamp(-1.0, 1.0)
        return action.float().numpy()[0]


class SharedPolicy:
    """Actor weights in shared memory, published by the learner and copied by workers under a seqlock.

    The learner makes `seq` odd, writes, then makes it even; a worker copies and retries if `seq`
    changed meanwhile, so it never acts with half-old, half-new weights, and takes no lock a kill
    could leave held. `version` is the learner's update count when the weights were published.
    """

    def __init__(self, module: Any, ctx: Any) -> None:
        self.net = ActingPolicy.snapshot(module)
        self.net.share_memory()
        self._seq = ctx.Value("q", 0, lock=False)
        self._version = ctx.Value("q", WARMUP_VERSION, lock=False)

    @property
    def version(self) -> int:
        return int(self._version.value)

    @torch.no_grad()
    def publish(self, module: Any, version: int) -> None:
        sources = ActingPolicy.sources(module)
        self._seq.value += 1
        for name, target in self.net.state_dict().items():
            target.copy_(sources[name])
        self._version.value = int(version)
        self._seq.value += 1

    def local_copy(self) -> ActingPolicy:
        local = copy.deepcopy(self.net)  # private (not shared) tensors
        return local

    @torch.no_grad()
    def read_into(self, local: ActingPolicy, known_version: int) -> int:
        """Copies the published weights into `local` unless it already holds `known_version`."""
        while True:
            seq = self._seq.value
            if seq % 2:
                continue
            version = self._version.value
            if version == known_version:
                return known_version
            for target, source in zip(local.state_dict().values(), self.net.state_dict().values(), strict=True):
                target.copy_(source)
            if self._seq.value == seq:
                return int(version)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to build itself (picklable)."""

    index: int  # the worker on this rank = its replay shard
    slot: int  # rank * workers_per_rank + index: seeds and per-worker env settings
    generation: int  # starts of this worker so far (a restart or a resume gets fresh episode seeds)
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    frame_stack: int = 4
    learning_starts: int = 0
    warmup: WarmupConfig = WarmupConfig()  # noqa: B008 - frozen config value
    exploration: ExplorationConfig = ExplorationConfig()  # noqa: B008


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def worker_main(spec: WorkerSpec, policy: SharedPolicy, limiter: RateLimiter, conn: Any, parent_pid: int) -> None:
    """Process entry point. Exits quietly when the learner stops it or goes away; on any other error it
    sends a one-line message and exits with code 1 (the learner restarts it with backoff)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C goes to the learner, which stops us
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    torch.set_num_threads(1)
    env = None
    try:
        from lightning_td3.envs.factory import make_env

        env = make_env(spec.env, **spec.env_kwargs)
        _rollout(spec, env, policy, limiter, conn, parent_pid)
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass  # the learner closed our pipe or died: nothing to report to
    except SystemExit:
        raise
    except BaseException as err:  # noqa: BLE001 - anything else is reported, then the process fails
        try:
            conn.send(("error", f"{type(err).__name__}: {' '.join(str(err).split())}"))
        except Exception:  # noqa: BLE001
            pass
        raise SystemExit(1) from None
    finally:
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001
                pass
        conn.close()


def _rollout(
    spec: WorkerSpec, env: Any, policy: SharedPolicy, limiter: RateLimiter, conn: Any, parent_pid: int
) -> None:
    rng = np.random.default_rng(spec.seed)
    warmup = WarmupPolicy(spec.warmup, rng, env)
    generator = torch.Generator().manual_seed(spec.seed)
    local = policy.local_copy()
    version = WARMUP_VERSION
    stacker = FrameStacker(spec.frame_stack)
    obs: dict[str, np.ndarray] | None = None
    first_reset = True
    stats = EpisodeStats()
    while True:
        if obs is None:
            obs, _ = env.reset(seed=spec.seed if first_reset else None)
            first_reset = False
            stacker.reset(obs["image"])
            warmup.reset()
            stats = EpisodeStats()
            conn.send(("start", obs))
        index = limiter.claim(spec.index, parent_pid)
        if index is None:
            return
        if index < spec.learning_starts:
            action, acted_with = warmup(obs), WARMUP_VERSION
        else:
            version = policy.read_into(local, version)
            observation = {"image": stacker.stacked(), "vector": obs["vector"]}
            noise_std = spec.exploration.std_at(index - spec.learning_starts)
            action, acted_with = local.act(observation, True, noise_std, generator), version
        next_obs, reward, terminated, truncated, info = env.step(action)
        conn.send(("step", action, float(reward), next_obs, bool(terminated), bool(truncated), acted_with))
        stats.update(float(reward), info)
        stacker.push(next_obs["image"])
        obs = next_obs
        if terminated or truncated:
            conn.send(("episode", stats.state_dict()))
            obs = None
