"""Does the critic overestimate its own policy's value? Q against the return that actually followed.

TD3's twin critics and delayed actor updates exist to curb overestimation (Fujimoto et al., 2018, Fig. 1):
a critic that values actions above what they earn lets the actor chase them. The measure drives the
deterministic policy, then compares Q(s, mu(s)) at every state with the discounted return that followed
it. On the racetrack an episode ends at a terminal event (lap completed, off road, collision, stuck), so
that return is the value Q estimates. Episodes cut by the time limit are left out: their returns stop
short of the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from lightning_td3.agent.td3 import TD3
from lightning_td3.rollout.episodes import EpisodeStats, FrameStacker


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1}, with nothing after the last step (a terminal episode end)."""
    returns = np.empty(len(rewards), dtype=np.float64)
    following = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        following = float(rewards[t]) + gamma * following
        returns[t] = following
    return returns


@dataclass(frozen=True)
class Trajectory:
    """One episode of the deterministic policy: the states it saw, the actions it took, what it earned."""

    images: np.ndarray  # uint8 [T, S, H, W], the stacked frames the policy acted on
    vectors: np.ndarray  # float32 [T, D]
    actions: np.ndarray  # float32 [T, A]
    rewards: np.ndarray  # float64 [T]
    truncated: bool  # ended by the time limit, not by a terminal event
    stats: EpisodeStats


def drive(agent: TD3, env: gym.Env, seed: int) -> Trajectory:
    """One episode with the agent's deterministic actions."""
    obs, _ = env.reset(seed=seed)
    stacker = FrameStacker(int(agent.hparams.image_shape[0]))
    stacker.reset(obs["image"])
    stats = EpisodeStats()
    images, vectors, actions, rewards = [], [], [], []
    while True:
        observation = {"image": stacker.stacked(), "vector": obs["vector"]}
        action = agent.act(observation)
        images.append(observation["image"])
        vectors.append(np.asarray(observation["vector"], dtype=np.float32))
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        stats.update(float(reward), info)
        rewards.append(float(reward))
        stacker.push(obs["image"])
        if terminated or truncated:
            return Trajectory(np.stack(images), np.stack(vectors), np.stack(actions).astype(np.float32),
                              np.asarray(rewards), bool(truncated and not terminated), stats)  # fmt: skip


@dataclass(frozen=True)
class ValueBias:
    """Means over every state of the terminal episodes."""

    states: int
    episodes: int  # terminal episodes measured
    truncated: int  # episodes left out (time limit)
    mean_return: float  # the discounted return that followed a state
    q1_bias: float  # Q1 - return: the head the actor maximizes
    min_q_bias: float  # min over the critics - return: the value TD3's target uses (= q1_bias for one critic)

    @property
    def relative_q1_bias(self) -> float:
        return self.q1_bias / abs(self.mean_return) if self.mean_return else float("nan")


@torch.no_grad()
def value_bias(agent: TD3, trajectories: list[Trajectory], chunk: int = 256) -> ValueBias:
    """Q(s, a) of the agent's online critic against the discounted return, on its own trajectories."""
    kept = [t for t in trajectories if not t.truncated]
    if not kept:
        raise ValueError(f"no terminal episode among {len(trajectories)}: every one hit the time limit")
    gamma = float(agent.hparams.gamma)
    q1_gap, min_gap, returns = [], [], []
    for trajectory in kept:
        target = torch.as_tensor(discounted_returns(trajectory.rewards, gamma))
        for start in range(0, len(target), chunk):
            part = slice(start, start + chunk)
            images = torch.as_tensor(trajectory.images[part], device=agent.device)
            vectors = torch.as_tensor(trajectory.vectors[part], device=agent.device)
            state = agent.encode_state(agent.critic_encoder, images, vectors)
            q = agent.critic(state, torch.as_tensor(trajectory.actions[part], device=agent.device)).double().cpu()
            q1_gap.append(q[0] - target[part])
            min_gap.append(q.min(dim=0).values - target[part])
        returns.append(target)
    return ValueBias(
        states=sum(len(t.rewards) for t in kept),
        episodes=len(kept),
        truncated=len(trajectories) - len(kept),
        mean_return=float(torch.cat(returns).mean()),
        q1_bias=float(torch.cat(q1_gap).mean()),
        min_q_bias=float(torch.cat(min_gap).mean()),
    )
