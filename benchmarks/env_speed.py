"""Env steps per second with uniform random actions (one process, one core), printed as a table.

    python benchmarks/env_speed.py [--steps 2000]

Resets on episode end are included in the time (as in training). CARLA is not measured here: it needs a
server and runs at the server's pace.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lightning_td3.envs.factory import make_env

CASES = [
    ("racetrack", {}),
    ("racetrack", {"scenario": 0}),
    ("racetrack", {"scenario": 2}),
    ("racetrack", {"scenario": 2, "frame": "heading"}),
    ("racetrack", {"policy_frequency": 15}),
    ("gym:CarRacing-v3", {}),
]


def steps_per_second(name: str, kwargs: dict, steps: int, seed: int = 0) -> tuple[float, int]:
    env = make_env(name, **kwargs)
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    episodes = 0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        if terminated or truncated:
            episodes += 1
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed, episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'env':<18} {'kwargs':<38} {'steps/s':>9} {'ms/step':>8} {'episodes':>9}")
    for name, kwargs in CASES:
        rate, episodes = steps_per_second(name, kwargs, args.steps)
        print(f"{name:<18} {str(kwargs):<38} {rate:>9.0f} {1000 / rate:>8.2f} {episodes:>9}")
    sdl = os.environ.get("SDL_VIDEODRIVER")
    print(f"({args.steps} steps each, {os.cpu_count()} CPUs visible, SDL_VIDEODRIVER={sdl})")


if __name__ == "__main__":
    main()
