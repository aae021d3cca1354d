"""Learner updates/s: our TD3 module vs Stable-Baselines3 TD3 with the same CNN, same heads, same batch.

Both sides train the reference networks (4x84x84 uint8 frames + a 53-d vector; Nature-DQN conv trunk
with a LayerNorm after every conv and after the FC-512; 256-256 actor and twin-critic heads; policy
delay 2, target noise 0.2 / clip 0.5, tau 0.005) and each samples its own replay every update:

- ours: `TD3` driven as `lightning-td3 fit` drives it: a Lightning `Trainer` (manual optimization)
  reading batches that `FrameReplayBuffer.sample` draws from a pre-filled replay, TensorBoard logging
  every 50 updates (configs/racetrack.yaml) and the feature-norm monitor every 100; no env steps,
  no progress bar, no checkpoints.
- SB3 2.x: `TD3("MultiInputPolicy")` on a Dict space (image uint8 4x84x84 + vector float32 53), with
  a `BaseFeaturesExtractor` that holds exactly our encoder's layers (it is built from `PixelEncoder`)
  and concatenates the vector, `net_arch=[256, 256]`, fed from its pre-filled `DictReplayBuffer`;
  timed is `model.train(gradient_steps=N, batch_size=B)`, which per step samples, does two `.item()`s
  for its loss log and the updates.

Differences that remain (by design, each side as its users get it): SB3 has one learning rate for
all blocks (3e-4 here; ours 1e-4 CNN / 3e-4 MLP: the rate does not change the cost), SB3 clips no
gradient (ours clips the CNN blocks per block), SB3's actor loss runs the critic's encoder again where
ours reuses the critic-loss features, and with `encoder: shared` SB3 trains the shared encoder from the
actor loss, ours from the critic loss (DrQ-v2).

Runs are interleaved (ours, SB3, SB3, ours, ...) with the same torch thread count on both sides, and
the median of `--repeats` is reported; warm-up updates are not timed. On a CUDA device both sides
sample from host memory (SB3's buffer lives on the CPU; ours is given `--replay-device`).

    python benchmarks/learner.py                                  # CPU, 1 thread, batch 256, ~2 min
    python benchmarks/learner.py --batches 32 128 256 --variants default fast plain     # ~6 min
    python benchmarks/learner.py --device cuda --batches 32 128 256 --updates 300 300 300 --warmup 30 \
        --variants default fast compiled graphed

Our configurations (`--variants`, see VARIANTS): default = TD3's defaults (fused Adam), fast = +
channels_last, compiled = fast + compile, graphed = fast + cuda_graph (CUDA only), plain = torch's
for-loop Adam (the module before its fast paths); shifted = fast + DrQ's random-shift augmentation
(`image_shift: 4`, configs/overlays/random_shift.yaml), what the augmentation costs; bf16 / graphed_bf16 =
fast / graphed under the Trainer's bf16-mixed autocast (CUDA only).
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import lightning as L
import numpy as np
import torch
from gymnasium import spaces
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, IterableDataset

from lightning_td3.agent import TD3
from lightning_td3.agent.encoder import PixelEncoder
from lightning_td3.callbacks.feature_norm import FeatureNormMonitor
from lightning_td3.replay import FrameReplayBuffer

FRAME, STACK, VECTOR, ACTION = 84, 4, 53, 2
EPISODE = 500  # steps per episode in the pre-filled replays (a few episode ends, as in training)
SB3_LR = 3e-4

# our module's configurations: "default" is TD3's defaults (fused_optimizer "auto" = fused Adam on CPU and
# CUDA); "fast" adds channels-last encoders; "compiled" adds torch.compile; "plain" is the for-loop Adam
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"channels_last": True},
    "compiled": {"channels_last": True, "compile": True},
    "graphed": {"channels_last": True, "cuda_graph": True},  # CUDA only; warm-up >= 7 covers capture
    "graphed_nchw": {"cuda_graph": True},  # channels_last is a CPU (oneDNN) win; on CUDA it is measured here
    "bf16": {"channels_last": True},  # CUDA only, with the Trainer's bf16-mixed precision (PRECISION)
    "graphed_bf16": {"channels_last": True, "cuda_graph": True},
    "plain": {"fused_optimizer": "none"},
    "shifted": {"channels_last": True, "image_shift": 4},  # fast + DrQ's random shift of every batch's images
}
PRECISION: dict[str, str] = {"bf16": "bf16-mixed", "graphed_bf16": "bf16-mixed"}  # others: "32-true"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _frames(count: int, seed: int = 0) -> np.ndarray:
    """Distinct random frames, cycled when filling: content does not change the cost."""
    return np.random.default_rng(seed).integers(0, 256, (min(count, 1000), FRAME, FRAME), np.uint8)


# ---- ours ------------------------------------------------------------------------------------------
def fill_ours(transitions: int, device: str) -> FrameReplayBuffer:
    frames, vectors = _frames(transitions), np.random.default_rng(1).normal(size=(64, VECTOR)).astype(np.float32)
    buffer = FrameReplayBuffer(transitions + 1, (FRAME, FRAME), VECTOR, ACTION, STACK, device=device)
    action = np.zeros(ACTION, np.float32)
    for t in range(transitions):
        if not buffer.in_episode:
            buffer.start_episode({"image": frames[t % len(frames)], "vector": vectors[t % 64]})
        obs = {"image": frames[(t + 1) % len(frames)], "vector": vectors[(t + 1) % 64]}
        buffer.add(action, 1.0, obs, False, t % EPISODE == EPISODE - 1)
    return buffer


class ReplayBatches(IterableDataset):
    """`count` batches sampled from the replay, as ReplayStream yields them (without env steps)."""

    def __init__(self, buffer: FrameReplayBuffer, batch_size: int, count: int) -> None:
        self.buffer, self.batch_size, self.count = buffer, batch_size, count

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for _ in range(self.count):
            yield self.buffer.sample(self.batch_size)

    def __len__(self) -> int:
        return self.count


class UpdateTimer(L.Callback):
    """Wall time from the start of batch `warmup` to the end of the epoch (sampling included)."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: Any, idx: int) -> None:
        if idx == self.warmup:
            sync(self.device)
            self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        sync(self.device)
        self.end = time.perf_counter()


def make_ours(encoder: str, variant: str) -> TD3:
    torch.manual_seed(0)
    return TD3(vector_dim=VECTOR, encoder=encoder, **VARIANTS[variant])


def ours_updates_per_s(module: TD3, buffer: FrameReplayBuffer, batch_size: int, updates: int, warmup: int,
                       device: str, log_dir: str, precision: str = "32-true") -> float:  # fmt: skip
    timer = UpdateTimer(warmup, device)
    trainer = L.Trainer(
        max_epochs=1, accelerator="cuda" if device.startswith("cuda") else "cpu", devices=1, precision=precision,
        logger=TensorBoardLogger(log_dir, name="learner"), log_every_n_steps=50,
        callbacks=[timer, FeatureNormMonitor(every_n_updates=100)], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    loader = DataLoader(ReplayBatches(buffer, batch_size, warmup + updates), batch_size=None)
    trainer.fit(module, loader)
    return updates / (timer.end - timer.start)


# ---- SB3 ---------------------------------------------------------------------------------------------
def sb3_extractor_class() -> type:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class PixelVectorExtractor(BaseFeaturesExtractor):
        """Our encoder's layers (conv/LayerNorm/ReLU x3, FC-512, LayerNorm, ReLU) ++ the vector.

        SB3 has already divided the uint8 image by 255 (normalize_images), which our PixelEncoder does
        itself, so this runs the encoder's `net` on the float image.
        """

        def __init__(self, observation_space: spaces.Dict, feature_dim: int = 512) -> None:
            image_shape = observation_space["image"].shape
            super().__init__(observation_space, feature_dim + observation_space["vector"].shape[0])
            self.cnn = PixelEncoder(image_shape, feature_dim, layer_norm=True).net

        def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
            return torch.cat([self.cnn(observations["image"]), observations["vector"]], dim=-1)

    return PixelVectorExtractor


class SpacesOnly(gym.Env):
    """Carries the observation and action spaces for SB3's constructor; never stepped."""

    observation_space = spaces.Dict({
        "image": spaces.Box(0, 255, (STACK, FRAME, FRAME), np.uint8),
        "vector": spaces.Box(-np.inf, np.inf, (VECTOR,), np.float32),
    })  # fmt: skip
    action_space = spaces.Box(-1.0, 1.0, (ACTION,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        return self.observation_space.sample(), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        return self.observation_space.sample(), 0.0, False, False, {}


def make_sb3(encoder: str, batch_size: int, transitions: int, device: str) -> Any:
    from stable_baselines3 import TD3 as SB3TD3
    from stable_baselines3.common.logger import configure

    torch.manual_seed(0)
    policy_kwargs = {"features_extractor_class": sb3_extractor_class(), "net_arch": [256, 256],
                     "share_features_extractor": encoder == "shared"}  # fmt: skip
    model = SB3TD3(
        "MultiInputPolicy", SpacesOnly(), learning_rate=SB3_LR, buffer_size=transitions + 1, learning_starts=0,
        batch_size=batch_size, tau=0.005, gamma=0.99, policy_delay=2, target_policy_noise=0.2,
        target_noise_clip=0.5, policy_kwargs=policy_kwargs, device=device, seed=0,
    )  # fmt: skip
    model.set_logger(configure(None, []))  # what learn() would set up; train() records into it
    frames = _frames(transitions)
    stack = [frames[0]] * STACK
    vectors = np.random.default_rng(1).normal(size=(64, VECTOR)).astype(np.float32)
    action = np.zeros((1, ACTION), np.float32)
    for t in range(transitions):
        obs = {"image": np.stack(stack)[None], "vector": vectors[t % 64][None]}
        stack = [*stack[1:], frames[(t + 1) % len(frames)]]
        next_obs = {"image": np.stack(stack)[None], "vector": vectors[(t + 1) % 64][None]}
        done = t % EPISODE == EPISODE - 1
        model.replay_buffer.add(obs, next_obs, action, np.ones(1, np.float32), np.array([done]), [{}])
    return model


def sb3_updates_per_s(model: Any, batch_size: int, updates: int, warmup: int, device: str) -> float:
    model.train(gradient_steps=warmup, batch_size=batch_size)
    sync(device)
    start = time.perf_counter()
    model.train(gradient_steps=updates, batch_size=batch_size)
    sync(device)
    return updates / (time.perf_counter() - start)


# ---- main ----------------------------------------------------------------------------------------------
def interleaved(runs: dict[str, Callable[[], float]], repeats: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Each repeat runs every side once, alternating the order so that drifting load hits both alike.

    A side that raises is reported (traceback on stderr) and dropped, so that one fast path that cannot
    run on this machine does not cost the other numbers. Returns (rates, failures)."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    failures: dict[str, str] = {}
    names = list(runs)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            if name in failures:
                continue
            try:
                results[name].append(runs[name]())
            except Exception as error:  # noqa: BLE001 - reported below, the run goes on
                traceback.print_exc()
                failures[name] = f"{type(error).__name__}: {error}".splitlines()[0][:120]
    return results, failures


def make_runs(modules: dict[str, TD3], sb3: Any, buffer: FrameReplayBuffer, batch_size: int, count: int,
              args: argparse.Namespace, log_dir: str) -> dict[str, Callable[[], float]]:  # fmt: skip
    """One timed run per side: each call trains the same model further (steady state, no re-setup)."""
    runs: dict[str, Callable[[], float]] = {}
    for variant, module in modules.items():
        runs[f"ours {variant}"] = lambda m=module, v=variant: ours_updates_per_s(
            m, buffer, batch_size, count, args.warmup, args.device, log_dir, PRECISION.get(v, "32-true")
        )
    runs["SB3"] = lambda: sb3_updates_per_s(sb3, batch_size, count, args.warmup, args.device)
    return runs


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--batches", type=int, nargs="+", default=[256])
    parser.add_argument("--updates", type=int, nargs="+", default=None,
                        help="timed updates per repeat, one per --batches entry (default: 6 at 256, more below)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoders", nargs="+", default=["separate", "shared"], choices=["separate", "shared"])
    parser.add_argument("--variants", nargs="+", default=["default", "fast"], choices=list(VARIANTS),
                        help="our module's configurations to time (see VARIANTS)")
    parser.add_argument("--transitions", type=int, default=3000, help="transitions pre-filled in each replay")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, both sides")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--replay-device", default="cpu", help="where our replay lives (cpu or the --device)")
    args = parser.parse_args()
    updates = args.updates or [max(6, 6 * 256 // b) for b in args.batches]
    if len(updates) != len(args.batches):
        parser.error("--updates needs one count per --batches entry")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    cuda_only = sorted(v for v in args.variants if VARIANTS[v].get("cuda_graph") or v in PRECISION)
    if cuda_only and not args.device.startswith("cuda"):
        parser.error(f"--variants {' '.join(cuda_only)} need --device cuda (CUDA graphs, bf16 autocast)")
    if min(args.batches) < 1 or args.transitions < max(args.batches) + 2 * EPISODE:
        parser.error("--transitions must exceed the largest batch by a few episodes")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import stable_baselines3

    cuda = args.device.startswith("cuda")
    device_name = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} torch thread(s)"
    print(f"TD3 updates/s, 4x84x84 uint8 + {VECTOR}-d vector, CNN(LN)+FC512, 256-256 heads, {device_name}")
    print(f"torch {torch.__version__}, lightning {L.__version__}, stable-baselines3 {stable_baselines3.__version__}")
    print(f"{'encoder':>8} {'batch':>5} {'side':>14} {'upd/s':>8} {'x SB3':>6}   per repeat")
    started = time.perf_counter()
    buffer = fill_ours(args.transitions, args.replay_device)
    with tempfile.TemporaryDirectory() as log_dir:
        for encoder in args.encoders:
            for batch_size, count in zip(args.batches, updates, strict=True):
                sb3 = make_sb3(encoder, batch_size, args.transitions, args.device)
                modules = {v: make_ours(encoder, v) for v in args.variants}
                if torch.get_num_threads() != args.threads:  # a library must not have changed it
                    raise RuntimeError(f"torch threads changed to {torch.get_num_threads()}")
                runs = make_runs(modules, sb3, buffer, batch_size, count, args, log_dir)
                results, failures = interleaved(runs, args.repeats)
                reference = statistics.median(results["SB3"]) if "SB3" not in failures else math.nan
                for name, values in results.items():
                    if name in failures:
                        print(f"{encoder:>8} {batch_size:>5} {name:>14}   failed: {failures[name]}", flush=True)
                        continue
                    rate = statistics.median(values)
                    ratio = f"{rate / reference:6.2f}" if name != "SB3" else f"{'':6}"
                    each = " ".join(f"{v:.2f}" for v in values)
                    print(f"{encoder:>8} {batch_size:>5} {name:>14} {rate:8.2f} {ratio}   {each}", flush=True)
                del sb3, modules
    print(f"(total {time.perf_counter() - started:.0f} s; ratio = our median / SB3 median, same run)")


if __name__ == "__main__":
    main()
