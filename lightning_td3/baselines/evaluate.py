"""Evaluate any policy on any driving env over whole episodes, with the paper's metrics.

Every counter sums all steps of an episode (the reference counted collisions from the last step only);
distance and route completion are cumulative in the contract, so their furthest value is kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np


def run_episode(policy: Any, env: gym.Env, seed: int | None, frame_stack: int = 1) -> dict[str, float]:
    """One episode; `policy` is a callable(obs) -> action or has `act(obs)` (and optionally `reset()`)."""
    act: Callable = policy.act if hasattr(policy, "act") else policy
    if hasattr(policy, "reset"):
        policy.reset()
    obs, info = env.reset(seed=seed)
    frames = deque([obs["image"]] * frame_stack, maxlen=frame_stack)
    episode = {
        "return": 0.0,
        "length": 0,
        "collisions": 0,
        "lane_invasions": 0,
        "distance": 0.0,
        "route_completion": 0.0,
        "speed_sum": 0.0,
        "success": False,
        "driving_score": float("nan"),
    }
    while True:
        stacked = np.concatenate(list(frames), axis=0)
        action = act({"image": stacked, "vector": obs["vector"]})
        obs, reward, terminated, truncated, info = env.step(action)
        frames.append(obs["image"])
        metrics, events = info["metrics"], info["events"]
        episode["return"] += float(reward)
        episode["length"] += 1
        episode["collisions"] += int(events["collision"])
        episode["lane_invasions"] += int(events["lane_invasion"])
        episode["distance"] = max(episode["distance"], float(metrics["distance"]))
        episode["route_completion"] = max(episode["route_completion"], float(metrics["route_completion"]))
        episode["speed_sum"] += float(metrics["speed"])
        if "driving_score" in metrics:
            episode["driving_score"] = float(metrics["driving_score"])
        if terminated or truncated:
            episode["success"] = bool(info["success"])
            episode["termination_reason"] = info["termination_reason"]
            episode["avg_speed"] = episode.pop("speed_sum") / episode["length"]
            return episode


def evaluate(
    policy: Any, env: gym.Env, episodes: int = 10, seed: int = 0, frame_stack: int = 1
) -> dict[str, Any]:
    """Mean/std return, success rate, collisions per km, route completion, average speed, episode length."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    runs = [run_episode(policy, env, seed + i, frame_stack) for i in range(episodes)]
    returns = np.array([r["return"] for r in runs])
    km = sum(r["distance"] for r in runs) / 1000.0
    collisions = sum(r["collisions"] for r in runs)
    scores = [r["driving_score"] for r in runs if not np.isnan(r["driving_score"])]
    return {
        "episodes": episodes,
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "success_rate": float(np.mean([r["success"] for r in runs])),
        "collisions": int(collisions),
        "collisions_per_km": float(collisions / km) if km > 0 else float("nan"),
        "lane_invasions_per_km": float(sum(r["lane_invasions"] for r in runs) / km)
        if km > 0
        else float("nan"),
        "route_completion_mean": float(np.mean([r["route_completion"] for r in runs])),
        "distance_mean": float(np.mean([r["distance"] for r in runs])),
        "avg_speed_kmh": float(np.mean([r["avg_speed"] for r in runs]) * 3.6),
        "episode_length_mean": float(np.mean([r["length"] for r in runs])),
        "driving_score_mean": float(np.mean(scores)) if scores else float("nan"),
        "per_episode": runs,
    }
