"""How do checkpoints (or the classical controller) collide in traffic? Markdown, one section a policy.

Each policy drives --episodes episodes of the config's evaluation laps (or, with --training_env, of its
training env) with deterministic actions. Every collision is listed with its kind (rear_end: the ego ran into
a vehicle that had been ahead in its lane; sideways: across lanes; hit_from_behind), both speeds, and the gap
ahead and the throttle over the steps before it; and how much the policy changes its actions from step to step.
See lightning_td3/baselines/collisions.py.

    python scripts/collision_report.py --config configs/racetrack.yaml \
        --config configs/overlays/racetrack_traffic.yaml --ckpt A.ckpt B.ckpt [--classical] [--episodes 10]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from lightning_td3.agent import TD3
from lightning_td3.baselines.classical import ClassicalController
from lightning_td3.baselines.collisions import find_collisions, markdown_report
from lightning_td3.config_files import ConfigFileError, read_tool_inputs
from lightning_td3.envs.factory import make_env
from lightning_td3.rollout.episodes import EVAL_SEED_OFFSET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, action="append", help="repeat it to layer configs as `fit` does")
    parser.add_argument("--ckpt", nargs="*", default=[])
    parser.add_argument("--classical", action="store_true", help="also the classical controller")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--training_env", action="store_true", help="the training env (evaluation laps if not)")
    parser.add_argument("--seed", type=int, default=None, help="env seed of the first episode (default: the "
                        "evaluation laps' 10000+ or, with --training_env, 20000+)")  # fmt: skip
    args = parser.parse_args()
    if not args.ckpt and not args.classical:
        print("error: nothing to report: give --ckpt and/or --classical", file=sys.stderr)
        return 2
    try:
        config = read_tool_inputs(args.config, args.ckpt, args.episodes)
    except ConfigFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    torch.set_num_threads(1)
    data = config.get("data", {})
    env_kwargs = dict(data.get("env_kwargs") or {})
    if not args.training_env:
        env_kwargs.update(data.get("eval_env_kwargs") or {})
    seed = args.seed if args.seed is not None else (
        20_000 if args.training_env else int(config.get("seed_everything", 0)) + EVAL_SEED_OFFSET)
    env = make_env(data.get("env", "racetrack"), **env_kwargs)
    print(f"{args.episodes} episodes of the {'training env' if args.training_env else 'evaluation laps'} per "
          f"policy, env seed {seed}+, deterministic actions\n")  # fmt: skip
    policies = [("classical controller", ClassicalController.from_env(env).act, 1)] if args.classical else []
    for path in args.ckpt:
        agent = TD3.load_from_checkpoint(path, map_location="cpu", weights_only=False).eval()
        policies.append((path, agent.act, int(agent.hparams.image_shape[0])))
    for name, act, frame_stack in policies:
        print(markdown_report(name, find_collisions(act, env, args.episodes, seed, frame_stack)) + "\n")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
