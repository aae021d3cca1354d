"""The same traffic states in the world-aligned and the heading-up frame (docs/results/heading_frame.png).

The classical controller drives both frames' envs in lockstep (same seeds, same actions, so the same states)
until the car ahead is at each asked gap; the newest frame of each observation is shown.

    python scripts/frames_figure.py docs/results/heading_frame.png
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lightning_td3.baselines.classical import ClassicalController  # noqa: E402
from lightning_td3.envs.racetrack import FRAMES, RacetrackEnv  # noqa: E402


def find_states(gaps: list[float], seeds: range, tolerance: float = 1.0) -> dict[float, tuple[float, list]]:
    """gap -> (measured gap, [newest frame per FRAMES]) for the first state with the car ahead at that gap."""
    envs = [RacetrackEnv(scenario=2, spawn="anywhere", frame=frame) for frame in FRAMES]
    found: dict[float, tuple[float, list]] = {}
    for seed in seeds:
        observations = [env.reset(seed=seed)[0] for env in envs]
        controller = ClassicalController.from_env(envs[0])
        controller.reset()
        for _ in range(150):
            action = controller.act(observations[0])
            steps = [env.step(action) for env in envs]
            observations = [step[0] for step in steps]
            if steps[0][2] or steps[0][3]:
                break
            lead = envs[0].lead_vehicle()
            if lead is None:
                continue
            gap = float(np.linalg.norm(lead.position - envs[0].sim.vehicle.position))
            for want in gaps:
                if want not in found and abs(gap - want) < tolerance:
                    found[want] = (gap, [obs["image"][-1] for obs in observations])
        if len(found) == len(gaps):
            break
    for env in envs:
        env.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--gaps", type=float, nargs="+", default=[10.0, 18.0, 27.0])
    args = parser.parse_args()
    found = find_states(args.gaps, range(100, 200))
    if not found:
        raise SystemExit("error: no state with the car ahead at any of those gaps")
    fig, axes = plt.subplots(len(FRAMES), len(found), figsize=(2.5 * len(found), 5.4), squeeze=False)
    for col, want in enumerate(sorted(found)):
        gap, images = found[want]
        axes[0, col].set_title(f"car ahead at {gap:.0f} m (centre to centre)", fontsize=9)
        for row, (frame, image) in enumerate(zip(FRAMES, images, strict=True)):
            axes[row, col].imshow(image, cmap="gray", vmin=0, vmax=255)
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
            if col == 0:
                axes[row, col].set_ylabel(f"frame: {frame}")
    fig.suptitle("The same states in both frames (traffic; the newest of the 4 stacked 84x84 frames)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)


if __name__ == "__main__":
    main()
