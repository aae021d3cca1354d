"""`python -m lightning_td3.baselines --config configs/racetrack.yaml [--policy classical|random|checkpoint]`

Evaluates a policy on a training config's eval env, on the same evaluation seeds as the agent's
`eval/*` metrics, and prints the metrics as JSON. `--policy checkpoint --ckpt PATH` evaluates a
trained agent (deterministic actions) with exactly the code and seeds the baselines use, so agent and
baseline rows of a results table are comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lightning_td3.baselines.classical import ClassicalController
from lightning_td3.baselines.evaluate import evaluate
from lightning_td3.config_files import ConfigFileError, read_config_files
from lightning_td3.envs.factory import make_env
from lightning_td3.rollout.episodes import EVAL_SEED_OFFSET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightning_td3.baselines", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, action="append", help="a training config (its data.env / "
                        "env_kwargs are used); repeat it to layer configs as `fit` does")  # fmt: skip
    parser.add_argument("--policy", choices=("classical", "random", "checkpoint"), default="classical")
    parser.add_argument("--ckpt", default=None, help="the agent's checkpoint, with --policy checkpoint")
    parser.add_argument("--episodes", type=int, default=None, help="default: the config's data.eval_episodes")
    parser.add_argument("--seed", type=int, default=None, help="default: the config's seed_everything")
    parser.add_argument("--target_kmh", type=float, default=None, help="the classical controller's cruise speed "
                        "(default 30 km/h, the reward's target): how the return depends on pace alone")  # fmt: skip
    args = parser.parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    try:
        config = read_config_files(args.config)
    except ConfigFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if (args.policy == "checkpoint") != (args.ckpt is not None):
        print("error: --ckpt goes with --policy checkpoint (and only with it)", file=sys.stderr)
        return 2
    if args.target_kmh is not None and (args.policy != "classical" or not args.target_kmh > 0):
        print(f"error: --target_kmh goes with --policy classical and must be > 0, got {args.target_kmh}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.ckpt is not None and not Path(args.ckpt).is_file():
        print(f"error: checkpoint not found: {args.ckpt}", file=sys.stderr)
        return 2
    data = config.get("data", {})
    env_kwargs = {**(data.get("env_kwargs") or {}), **(data.get("eval_env_kwargs") or {})}
    env = make_env(data.get("env", "racetrack"), **env_kwargs)
    seed = args.seed if args.seed is not None else int(config.get("seed_everything", 0))
    episodes = args.episodes if args.episodes is not None else int(data.get("eval_episodes", 10))
    frame_stack = 1
    if args.policy == "classical":
        speed = {} if args.target_kmh is None else {"target_speed_kmh": args.target_kmh}
        policy: Any = ClassicalController.from_env(env, **speed)
    elif args.policy == "checkpoint":
        import torch

        from lightning_td3.agent import TD3

        torch.set_num_threads(1)
        agent = TD3.load_from_checkpoint(args.ckpt, map_location="cpu", weights_only=False).eval()
        frame_stack = int(agent.hparams.image_shape[0])
        policy = agent.act
    else:
        rng = np.random.default_rng(seed)
        policy = lambda obs: rng.uniform(-1.0, 1.0, size=2).astype(np.float32)
    result = evaluate(policy, env, episodes=episodes, seed=seed + EVAL_SEED_OFFSET, frame_stack=frame_stack)
    env.close()
    result.pop("per_episode")
    source = {"ckpt": args.ckpt} if args.ckpt else {}
    if args.target_kmh is not None:
        source["target_kmh"] = args.target_kmh
    print(json.dumps({"policy": args.policy, "config": " ".join(args.config), **source, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
