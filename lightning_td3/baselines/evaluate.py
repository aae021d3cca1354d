"""Evaluate any policy on any driving env over whole episodes, with the paper's metrics.

Episodes are counted by `rollout.episodes.EpisodeStats`, the same code that counts the agent's
training and evaluation episodes, so baseline and agent numbers are comparable.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import gymnasium as gym
import numpy as np

from lightning_td3.rollout.episodes import run_episode


def evaluate(
    policy: Any, env: gym.Env, episodes: int = 10, seed: int = 0, frame_stack: int = 1
) -> dict[str, Any]:
    """Mean/std return, success rate, collisions per km, route completion, average speed, episode length,
    and how the episodes ended (`termination_reasons`: a failed lap's cause is in it, not in the means).

    `policy` is a callable(obs) -> action or has `act(obs)`, and optionally `reset()` per episode.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    act = policy.act if hasattr(policy, "act") else policy
    runs = []
    for i in range(episodes):
        if hasattr(policy, "reset"):
            policy.reset()
        stats = run_episode(env, act, frame_stack, seed + i)
        runs.append({**stats.summary(), "termination_reason": stats.termination_reason})
    returns = np.array([r["return"] for r in runs])
    km = sum(r["distance"] for r in runs) / 1000.0
    collisions = int(sum(r["collisions"] for r in runs))
    per_km = lambda count: float(count / km) if km > 0 else float("nan")
    scores = [r["driving_score"] for r in runs if not np.isnan(r["driving_score"])]
    return {
        "episodes": episodes,
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "success_rate": float(np.mean([r["success"] for r in runs])),
        "collisions": collisions,
        "collisions_per_km": per_km(collisions),
        "lane_invasions_per_km": per_km(sum(r["lane_invasions"] for r in runs)),
        "route_completion_mean": float(np.mean([r["route_completion"] for r in runs])),
        "distance_mean": float(np.mean([r["distance"] for r in runs])),
        "avg_speed_kmh": float(np.mean([r["avg_speed"] for r in runs]) * 3.6),
        "episode_length_mean": float(np.mean([r["length"] for r in runs])),
        "driving_score_mean": float(np.mean(scores)) if scores else float("nan"),
        "termination_reasons": dict(sorted(Counter(r["termination_reason"] for r in runs).items())),
        "per_episode": runs,
    }
