"""Does a checkpoint drive from its pixels or from its kinematic vector? A markdown table, one row a checkpoint.

The states are those the classical controller sees on evaluation laps of the config's env (the same for
every checkpoint); see lightning_td3/agent/reliance.py for the measure.

    python scripts/input_reliance.py --config configs/racetrack.yaml --ckpt A.ckpt B.ckpt [--episodes 1]
    # untrained agents with A's hyperparameters (3 init seeds), one of them changed:
    python scripts/input_reliance.py --config configs/racetrack.yaml --ckpt A.ckpt --fresh 3 --set layer_norm_gain=0.1
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
import yaml

from lightning_td3.agent import TD3
from lightning_td3.agent.reliance import input_reliance
from lightning_td3.baselines.classical import ClassicalController
from lightning_td3.config_files import ConfigFileError, read_tool_inputs
from lightning_td3.envs.factory import make_env
from lightning_td3.rollout.episodes import run_episode


def controller_states(config: dict, episodes: int, frame_stack: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    data = config.get("data", {})
    env_kwargs = {**(data.get("env_kwargs") or {}), **(data.get("eval_env_kwargs") or {})}
    env = make_env(data.get("env", "racetrack"), **env_kwargs)
    controller = ClassicalController.from_env(env)
    images, vectors = [], []

    def act(obs: dict[str, np.ndarray]) -> np.ndarray:
        images.append(obs["image"].copy())
        vectors.append(obs["vector"].copy())
        return controller.act(obs)

    for i in range(episodes):
        controller.reset()
        run_episode(env, act, frame_stack, seed + i)
    env.close()
    return torch.as_tensor(np.stack(images)), torch.as_tensor(np.stack(vectors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, action="append", help="repeat it to layer configs as `fit` does")
    parser.add_argument("--ckpt", nargs="+", required=True)
    parser.add_argument("--episodes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=10_000, help="env seed of the first lap (eval laps: 10000+)")
    parser.add_argument("--fresh", type=int, default=0, help="measure N untrained agents (init seeds 0..N-1) "
                        "built from each checkpoint's hyperparameters instead of the trained one")  # fmt: skip
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="hyperparameter changes (--fresh)")
    args = parser.parse_args()
    try:
        changes = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    except ValueError:
        print(f"error: --set takes KEY=VALUE, got {args.set}", file=sys.stderr)
        return 2
    if changes and not args.fresh:
        print("error: --set changes the hyperparameters of untrained agents: it needs --fresh N", file=sys.stderr)
        return 2
    try:
        config = read_tool_inputs(args.config, args.ckpt)
    except ConfigFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    torch.set_num_threads(1)
    agents: list[tuple[str, TD3]] = []
    for path in args.ckpt:
        trained = TD3.load_from_checkpoint(path, map_location="cpu", weights_only=False).eval()
        if not args.fresh:
            agents.append((path, trained))
        for seed in range(args.fresh):
            torch.manual_seed(seed)
            label = f"{path}, untrained, init seed {seed}" + "".join(f", {k}={v}" for k, v in changes.items())
            agents.append((label, TD3(**{**trained.hparams, **changes}).eval()))
    frame_stack = int(agents[0][1].hparams.image_shape[0])
    images, vectors = controller_states(config, args.episodes, frame_stack, args.seed)
    print(f"{len(images)} states from {args.episodes} classical-controller lap(s), env seed {args.seed}+\n")
    print("| checkpoint | feature L2 | action change, pixels permuted | action change, vector permuted "
          "| pixel share of the actor | Q change / std(Q), pixels | Q change / std(Q), vector |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, agent in agents:
        r = input_reliance(agent, images, vectors)
        print(f"| {label} | {r.feature_l2:.2f} | {r.action_change_pixels:.3f} | {r.action_change_vector:.3f} "
              f"| {r.pixel_share:.2f} | {r.q_change_pixels:.2f} | {r.q_change_vector:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
