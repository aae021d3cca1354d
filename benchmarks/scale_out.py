"""Asynchronous rollout: env steps/s and learner updates/s with 0, 1, 2 rollout workers (embedded racetrack).

Three measurements, each through the real TD3DataModule + Trainer.fit path (CPU, 1 torch thread per process):

  end-to-end   env_steps_per_update 1 and the default rate limiter: env steps/s (= updates/s) of the whole
               loop, timed from the first batch (warm-up and worker start-up excluded). Run twice: on the
               racetrack as is (CPU-bound env), and with `--env-latency` s of sleep per step (default
               0.05 = CARLA's synchronous 20 Hz tick, spent in the server, not on our cores).
  free-running the learner barely needs env steps (ratio 1/1000) and the workers may run unbounded ahead
               (huge rate_tolerance): learner updates/s while K workers step as fast as they can, and
               the workers' env steps/s at the same time. K=0 gives the learner alone; "env only" is one
               in-process env stepped with warm-up actions.
  transport    messages/s and MB/s of the worker -> learner pipe for real step messages (84x84 uint8 frame
               + 53-d vector), the reason the frames travel pickled through a pipe, not shared memory.

    python benchmarks/scale_out.py                    # ~4 min on 2 shared cores
    python benchmarks/scale_out.py --workers 0 2 4 --env-steps 1000 --feature-dim 512 --batch-size 256
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import lightning as L
import numpy as np
import torch
import torch.multiprocessing as tmp
from lightning.pytorch.callbacks import Callback

from lightning_td3.agent import TD3
from lightning_td3.data import TD3DataModule
from lightning_td3.envs.racetrack import RacetrackEnv
from lightning_td3.rollout.async_pool import RolloutPool

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")


class Clock(Callback):
    """Env steps (inserted), env steps claimed by workers, and updates, at the first batch and at the end."""

    def __init__(self) -> None:
        self.start: tuple[float, int, int, int] | None = None
        self.end: tuple[float, int, int, int] | None = None

    def _now(self, trainer: L.Trainer, pl_module: TD3) -> tuple[float, int, int, int]:
        dm = trainer.datamodule
        claimed = dm.worker.limiter.claimed() if isinstance(dm.worker, RolloutPool) else dm.env_steps
        return time.perf_counter(), dm.env_steps, claimed, pl_module.updates

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: TD3, *args: object) -> None:
        if self.start is None:
            self.start = self._now(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: TD3, *args: object) -> None:
        self.end = self._now(trainer, pl_module)

    def rates(self) -> dict[str, float]:
        assert self.start is not None and self.end is not None
        dt = self.end[0] - self.start[0]
        return {
            "env_steps/s": (self.end[1] - self.start[1]) / dt,
            "worker_env_steps/s": (self.end[2] - self.start[2]) / dt,
            "updates/s": (self.end[3] - self.start[3]) / dt,
            "seconds": dt,
        }


class SlowRacetrack(RacetrackEnv):
    """The racetrack with a simulator's latency: `latency` s of sleep per step (no CPU used)."""

    def __init__(self, latency: float = 0.05, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.latency = latency

    def step(self, action: object) -> tuple:
        time.sleep(self.latency)
        return super().step(action)


def fit(args: argparse.Namespace, workers: int, free_running: bool, latency: float = 0.0) -> dict[str, float]:
    ratio = 0.001 if free_running else 1.0
    max_env_steps = args.learning_starts + (10**6 if free_running else args.env_steps)
    env, env_kwargs = "racetrack", {"max_episode_steps": args.episode_steps}
    if latency:  # importable by the spawned workers: they inherit this script's folder on sys.path
        env, env_kwargs = "scale_out.SlowRacetrack", {**env_kwargs, "latency": latency}
    dm = TD3DataModule(
        env=env, env_kwargs=env_kwargs, buffer_size=20_000,
        batch_size=args.batch_size, learning_starts=args.learning_starts, env_steps_per_update=ratio,
        max_env_steps=max_env_steps, eval_episodes=0, rollout_workers=workers,
        rate_tolerance=10**9 if free_running else 64, weight_sync_every=50,
    )  # fmt: skip
    torch.manual_seed(0)
    model = TD3(image_shape=dm.image_shape, vector_dim=dm.vector_dim, action_dim=dm.action_dim,
                feature_dim=args.feature_dim, hidden_dim=args.feature_dim)  # fmt: skip
    clock = Clock()
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, log_every_n_steps=0,
        callbacks=[clock], limit_train_batches=args.updates if free_running else None,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    return clock.rates()


def env_only(args: argparse.Namespace, seconds: float = 5.0) -> float:
    from lightning_td3.envs.factory import make_env
    from lightning_td3.rollout.exploration import WarmupConfig, WarmupPolicy

    env = make_env("racetrack", max_episode_steps=args.episode_steps)
    policy = WarmupPolicy(WarmupConfig(), np.random.default_rng(0), env)
    obs, _ = env.reset(seed=0)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        steps += 1
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return steps / (time.perf_counter() - t0)


def _send(conn: object, n: int) -> None:
    obs = {"image": np.zeros((1, 84, 84), np.uint8), "vector": np.zeros(53, np.float32)}
    action = np.zeros(2, np.float32)
    for _ in range(n):
        conn.send(("step", action, 0.0, obs, False, False, 0))
    conn.close()


def transport(n: int = 3000) -> dict[str, float]:
    ctx = tmp.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_send, args=(writer, n), daemon=True)
    process.start()
    writer.close()
    first = reader.recv()  # the sender has started; time the rest
    t0 = time.perf_counter()
    for _ in range(n - 1):
        reader.recv()
    dt = time.perf_counter() - t0
    process.join()
    size = len(__import__("pickle").dumps(first))
    return {"msgs/s": (n - 1) / dt, "MB/s": (n - 1) * size / dt / 2**20, "bytes/msg": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--env-steps", type=int, default=100, help="timed env steps of the end-to-end run")
    parser.add_argument("--updates", type=int, default=100, help="timed updates of the free-running run")
    parser.add_argument("--learning-starts", type=int, default=50)
    parser.add_argument("--env-latency", type=float, default=0.05, help="s per step of the simulator-bound run")
    parser.add_argument("--episode-steps", type=int, default=200)
    parser.add_argument("--feature-dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} feature_dim={args.feature_dim} "
          f"batch={args.batch_size}")  # fmt: skip
    t = transport()
    print(f"transport  pipe: {t['msgs/s']:.0f} step msgs/s, {t['MB/s']:.0f} MB/s ({t['bytes/msg']} B/msg)")
    print(f"env only   1 env in-process: {env_only(args):.1f} env steps/s")
    for k in args.workers:
        r = fit(args, k, free_running=False)
        print(f"end-to-end workers={k}: {r['env_steps/s']:.1f} env steps/s = {r['updates/s']:.1f} updates/s "
              f"({r['seconds']:.1f} s)")  # fmt: skip
    for k in args.workers:
        r = fit(args, k, free_running=False, latency=args.env_latency)
        print(f"end-to-end workers={k}, {1000 * args.env_latency:.0f} ms/step simulator: {r['env_steps/s']:.1f} "
              f"env steps/s = {r['updates/s']:.1f} updates/s ({r['seconds']:.1f} s)")  # fmt: skip
    for k in args.workers:
        r = fit(args, k, free_running=True)
        env = f", workers {r['worker_env_steps/s']:.1f} env steps/s meanwhile" if k else ""
        print(f"free-run   workers={k}: learner {r['updates/s']:.1f} updates/s{env} ({r['seconds']:.1f} s)")


if __name__ == "__main__":
    main()
