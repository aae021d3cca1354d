"""Lightning's overhead on the TD3 update: updates/s through `Trainer.fit` vs a plain PyTorch loop.

Both sides run the same module code (critic loss, actor loss every `policy_delay`, per-block
clipping, polyak update) on the same synthetic 4x84x84 + 53-d batches from the same DataLoader, so
the difference is what Lightning adds: the fit loop, hooks, LightningOptimizer/precision plugin
and batch transfer. Logging is off on both sides (log_every_n_steps=0), it is our cost, not
Lightning's. Runs are interleaved (plain, lightning, plain, ...) and the median of `--repeats` is
reported, since this machine's CPUs are shared. Warm-up batches are not timed.

    python benchmarks/learner_overhead.py                       # CPU, 1 thread, < 2 min
    python benchmarks/learner_overhead.py --device cuda --updates 200 200 --warmup 20
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import lightning as L
import torch
from torch.utils.data import DataLoader

from lightning_td3.agent import TD3
from lightning_td3.agent.optim import clip_blocks
from lightning_td3.agent.synthetic import SyntheticBatches

VECTOR_DIM = 53  # the reference's kinematic vector: speed, lateral, heading, 25 waypoints


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_module(device: str) -> TD3:
    torch.manual_seed(0)
    return TD3(vector_dim=VECTOR_DIM).to(device)


def loader(batch_size: int, num_batches: int) -> DataLoader:
    data = SyntheticBatches(num_batches, batch_size, pool=4, vector_dim=VECTOR_DIM)
    return DataLoader(data, batch_size=None)


def plain_updates_per_s(batch_size: int, updates: int, warmup: int, device: str, precision: str) -> float:
    """The same update written as a plain loop: no Trainer, no hooks, torch.autocast by hand."""
    module = make_module(device)
    actor_opt, critic_opt = module.configure_optimizers()
    dtype = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}[precision]
    scaler = torch.amp.GradScaler(device.split(":")[0]) if dtype == torch.float16 else None

    def backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, network: str) -> None:
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            clip_blocks(opt, module.max_norms[network], measure=False)
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            clip_blocks(opt, module.max_norms[network], measure=False)
            scaler.step(opt)
            scaler.update()

    start = 0.0
    for i, batch in enumerate(loader(batch_size, warmup + updates)):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            critic_loss, _, _, critic_state = module.critic_loss(batch)
        backward_step(critic_loss, critic_opt, "critic")
        if (module.updates + 1) % module.hparams.policy_delay == 0:
            with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                actor_loss, _ = module.actor_loss(batch, critic_state)
            backward_step(actor_loss, actor_opt, "actor")
            module.update_targets()
            module.actor_updates += 1
        module.updates += 1
    sync(device)
    return updates / (time.perf_counter() - start)


class UpdateTimer(L.Callback):
    """Times batches warmup .. end, excluding Trainer setup and teardown."""

    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, module: TD3, batch: dict, batch_idx: int) -> None:
        if batch_idx == self.warmup:
            sync(self.device)
            self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: TD3) -> None:
        sync(self.device)
        self.end = time.perf_counter()


def lightning_updates_per_s(batch_size: int, updates: int, warmup: int, device: str, precision: str) -> float:
    module = make_module("cpu")
    timer = UpdateTimer(warmup, device)
    trainer = L.Trainer(
        max_epochs=1, accelerator="cuda" if device.startswith("cuda") else "cpu", devices=1,
        precision=precision, logger=False, log_every_n_steps=0, callbacks=[timer],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, loader(batch_size, warmup + updates))
    return updates / (timer.end - timer.start)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--updates", type=int, nargs="+", default=[30, 10], help="timed updates per batch")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadiest if shared)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed", "16-mixed"])
    args = parser.parse_args()
    if len(args.updates) != len(args.batch_sizes):
        parser.error("--updates needs one count per --batch-sizes entry")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    cuda = args.device.startswith("cuda")
    device_name = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} thread(s)"
    print(f"TD3 update, 4x84x84 + {VECTOR_DIM}-d, separate encoders, {args.precision}, {device_name}")
    header = f"{'batch':>5} {'plain upd/s':>12} {'lightning upd/s':>16} {'overhead':>9}"
    print(f"{header}   per repeat (plain/lightning)")
    for batch_size, updates in zip(args.batch_sizes, args.updates, strict=True):
        plain, light = [], []
        for _ in range(args.repeats):
            run = (batch_size, updates, args.warmup, args.device, args.precision)
            plain.append(plain_updates_per_s(*run))
            light.append(lightning_updates_per_s(*run))
        p, lt = statistics.median(plain), statistics.median(light)
        runs = " ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(plain, light, strict=True))
        print(f"{batch_size:>5} {p:>12.2f} {lt:>16.2f} {100 * (p / lt - 1):>8.1f}%   {runs}")


if __name__ == "__main__":
    main()
