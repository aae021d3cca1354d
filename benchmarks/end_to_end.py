"""End-to-end throughput of a full `fit` with learning on the embedded env, and where the time goes.

    python benchmarks/end_to_end.py [--env-steps 1500] [--batch-size 64] [--ratio 1.0]
    python benchmarks/end_to_end.py --encoder shared --feature-dim 50 --channels-last   # racetrack.yaml's nets

Prints env steps/s of the whole run and the split between env stepping, acting (policy forward),
replay (add + sample), updates (training_step, logging excluded), logging and the rest (Lightning).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")

import lightning as L  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback  # noqa: E402

from lightning_td3.agent.td3 import TD3  # noqa: E402
from lightning_td3.data import TD3DataModule  # noqa: E402


class Timer(Callback):
    """Wraps the hot calls of a run once it is set up, and times the update itself."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._t = 0.0

    def _wrap(self, owner: Any, name: str, bucket: str) -> None:
        inner: Callable = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[bucket] += time.perf_counter() - t

        setattr(owner, name, timed)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dm = trainer.datamodule
        self._wrap(dm.env, "step", "env")
        self._wrap(dm.env, "reset", "env")
        self._wrap(pl_module, "act", "act")
        self._wrap(dm.buffer, "add", "replay")
        self._wrap(dm.buffer, "start_episode", "replay")
        self._wrap(dm.buffer, "sample", "replay")
        for logger in trainer.loggers:
            self._wrap(logger, "log_metrics", "logging")

    def on_train_batch_start(self, *args: Any) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self.seconds["update+logging"] += time.perf_counter() - self._t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=1500)
    parser.add_argument("--learning-starts", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ratio", type=float, default=1.0, help="env steps per update (UTD 1 = 1.0)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--encoder", choices=["separate", "shared"], default="separate")
    parser.add_argument("--feature-dim", type=int, default=512)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    L.seed_everything(0, verbose=False)

    dm = TD3DataModule(env="racetrack", env_kwargs={"max_episode_steps": 500}, batch_size=args.batch_size,
                       buffer_size=max(args.env_steps, 1000), learning_starts=args.learning_starts,
                       env_steps_per_update=args.ratio, max_env_steps=args.env_steps, eval_episodes=0)
    model = TD3(image_shape=dm.image_shape, vector_dim=dm.vector_dim, action_dim=dm.action_dim,
                encoder=args.encoder, feature_dim=args.feature_dim, channels_last=args.channels_last)
    timer = Timer()
    trainer = L.Trainer(max_epochs=-1, logger=L.pytorch.loggers.TensorBoardLogger("/tmp/lightning_td3_e2e"),
                        callbacks=[timer], enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, log_every_n_steps=50, num_sanity_val_steps=0)
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    wall = time.perf_counter() - start

    s = timer.seconds
    # the policy acts inside the update loop's data fetch, so `act` and env time are outside update+logging
    update = s["update+logging"] - s["logging"]
    accounted = s["env"] + s["act"] + s["replay"] + update + s["logging"]
    rows = [("env step/reset", s["env"]), ("act (policy forward)", s["act"]), ("replay add+sample", s["replay"]),
            ("update (training_step)", update), ("logging", s["logging"]),
            ("other (Lightning, stream)", wall - accounted)]
    print(f"TD3 encoder {args.encoder}, {args.feature_dim}-d features, channels_last {args.channels_last}")
    print(f"{args.env_steps} env steps, {model.updates} updates (batch {args.batch_size}, "
          f"{args.ratio} env steps/update, {args.threads} thread(s)) in {wall:.1f} s")
    print(f"env steps/s: {args.env_steps / wall:.1f}   updates/s: {model.updates / wall:.2f}")
    print(f"{'where':28s} {'seconds':>8s} {'share':>7s}")
    for name, sec in rows:
        print(f"{name:28s} {sec:8.2f} {sec / wall:7.1%}")


if __name__ == "__main__":
    main()
