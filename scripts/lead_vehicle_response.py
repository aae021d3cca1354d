"""Do checkpoints react to the car ahead? Markdown: their throttle and value with it in view and with it erased.

The states are those the classical controller meets on the config's evaluation laps (the same for every
checkpoint) whenever the vehicle ahead in its lane shows in the frame; see lightning_td3/baselines/lead_vehicle.py.

    python scripts/lead_vehicle_response.py --config configs/racetrack.yaml \
        --config configs/overlays/racetrack_traffic.yaml --ckpt A.ckpt B.ckpt [--episodes 10] [--fresh 2]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from lightning_td3.agent import TD3
from lightning_td3.baselines.classical import ClassicalController
from lightning_td3.baselines.lead_vehicle import collect_paired_states, lead_response, markdown_table
from lightning_td3.config_files import ConfigFileError, read_tool_inputs
from lightning_td3.envs.factory import make_env
from lightning_td3.envs.racetrack import RacetrackEnv
from lightning_td3.rollout.episodes import EVAL_SEED_OFFSET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, action="append", help="repeat it to layer configs as `fit` does")
    parser.add_argument("--ckpt", nargs="+", required=True)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=EVAL_SEED_OFFSET, help="env seed of the first lap")
    parser.add_argument("--fresh", type=int, default=0, help="also N untrained agents (init seeds 0..N-1) with the "
                        "first checkpoint's hyperparameters: what no perception looks like")  # fmt: skip
    args = parser.parse_args()
    try:
        config = read_tool_inputs(args.config, args.ckpt, args.episodes)
    except ConfigFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    torch.set_num_threads(1)
    data = config.get("data", {})
    env = make_env(data.get("env", "racetrack"), **{**(data.get("env_kwargs") or {}),
                                                     **(data.get("eval_env_kwargs") or {})})
    if not isinstance(env, RacetrackEnv) or not env.other_vehicles():
        print("error: the lead-vehicle probe needs the racetrack with traffic (e.g. "
              "--config configs/overlays/racetrack_traffic.yaml)", file=sys.stderr)
        return 2
    agents = [(path, TD3.load_from_checkpoint(path, map_location="cpu", weights_only=False).eval())
              for path in args.ckpt]
    for seed in range(args.fresh):
        torch.manual_seed(seed)
        agents.append((f"untrained, init seed {seed}", TD3(**agents[0][1].hparams).eval()))
    frame_stack = int(agents[0][1].hparams.image_shape[0])
    states = collect_paired_states(env, ClassicalController.from_env(env).act, args.episodes, args.seed, frame_stack)
    env.close()
    print(f"{len(states.gaps)} states with the lead vehicle in view, from {args.episodes} classical-controller "
          f"lap(s), env seed {args.seed}+ (closing speed {3.6 * states.closing.mean():+.0f} km/h on average)\n")
    print(markdown_table([(label, lead_response(agent, states)) for label, agent in agents]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
