"""Does a checkpoint's critic overestimate its policy? A markdown table, one row a checkpoint.

Each checkpoint drives its deterministic policy for --episodes episodes of the config's training env
(on the racetrack: spawned anywhere on the loop, the states its critic was trained on; the lap from the
start line always has the same remaining distance at a place, which the critic cannot see). See
lightning_td3/agent/value_bias.py for the measure.

    python scripts/value_bias.py --config configs/racetrack.yaml --ckpt A.ckpt B.ckpt [--episodes 10]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

from lightning_td3.agent import TD3
from lightning_td3.agent.value_bias import drive, value_bias
from lightning_td3.config_files import ConfigFileError, read_tool_inputs
from lightning_td3.envs.factory import make_env

MS_TO_KMH = 3.6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, action="append", help="repeat it to layer configs as `fit` does")
    parser.add_argument("--ckpt", nargs="+", required=True)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20_000, help="env seed of the first episode (the same for "
                        "every checkpoint; evaluation laps use 10000+)")  # fmt: skip
    args = parser.parse_args()
    try:
        data = read_tool_inputs(args.config, args.ckpt, args.episodes).get("data", {})
    except ConfigFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    torch.set_num_threads(1)
    env = make_env(data.get("env", "racetrack"), **(data.get("env_kwargs") or {}))
    print(f"{args.episodes} episodes of the training env per checkpoint, env seed {args.seed}+, deterministic "
          "actions; bias = mean over states of Q(s, a) - the discounted return that followed\n")  # fmt: skip
    print("| checkpoint | critics | episodes (time-limited, left out) | states | mean return | Q1 − return "
          "| relative | min Q − return | avg speed km/h |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.ckpt:
        agent = TD3.load_from_checkpoint(path, map_location="cpu", weights_only=False).eval()
        trajectories = [drive(agent, env, args.seed + i) for i in range(args.episodes)]
        try:
            bias = value_bias(agent, trajectories)
        except ValueError as error:
            print(f"| {path} | {agent.hparams.num_critics} | {error} |||||||")
            continue
        speed = MS_TO_KMH * np.mean([t.stats.avg_speed for t in trajectories])
        print(f"| {path} | {agent.hparams.num_critics} | {bias.episodes} ({bias.truncated}) | {bias.states} "
              f"| {bias.mean_return:.0f} | {bias.q1_bias:+.0f} | {bias.relative_q1_bias:+.2f} "
              f"| {bias.min_q_bias:+.0f} | {speed:.0f} |")  # fmt: skip
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
