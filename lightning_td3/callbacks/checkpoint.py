"""Checkpoints every N env steps, each with its replay sidecar, keeping the last K plus `last.ckpt`.

With `keep_every: M`, the first checkpoint at or past each multiple of M env steps is kept too (without its
replay sidecar, which is hundreds of MB): the policies at a budget stay evaluable after a run goes past it.
Which ones those are is read from the files on disk, so a resumed run keeps the same ones.

Written files are atomic (temp file, then rename): a run killed mid-write leaves the previous
checkpoint intact. The sidecar is written before the checkpoint that references it.

Under DDP every rank takes part in the save (Lightning gathers state on all ranks) and writes its own
replay sidecar(s); only global rank 0 renames the checkpoint, copies `last.ckpt` and prunes, which
removes every sidecar of a pruned step (`env_steps=N.replay`, `env_steps=N.rank1.replay`, ...).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

_NAME = re.compile(r"^env_steps=(\d+)\.ckpt$")


class EnvStepCheckpoint(ModelCheckpoint):
    """A `ModelCheckpoint` driven by the data module's env-step counter.

    Subclassing ModelCheckpoint keeps Lightning's `--ckpt_path last` resolution working; `last`
    is looked up in every `version_*` folder of the run's logger name, so a new process resumes
    the newest run of the same experiment.
    """

    def __init__(
        self,
        every_n_env_steps: int = 10_000,
        keep_last: int = 2,
        keep_every: int | None = None,
        dirpath: str | None = None,
        save_replay: bool = True,
    ) -> None:
        if every_n_env_steps < 1:
            raise ValueError(f"every_n_env_steps must be >= 1, got {every_n_env_steps}")
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {keep_last}")
        if keep_every is not None and keep_every < 1:
            raise ValueError(f"keep_every must be >= 1 env steps, got {keep_every}")
        super().__init__(dirpath=dirpath, save_last=True, save_top_k=-1, every_n_train_steps=0)
        self.every_n_env_steps = every_n_env_steps
        self.keep_last = keep_last
        self.keep_every = keep_every
        self.save_replay = save_replay
        self._next_save: int | None = None

    # Lightning's own triggers are replaced by the env-step trigger below.
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        env_steps = trainer.datamodule.env_steps
        if self._next_save is None:
            self._next_save = (env_steps // self.every_n_env_steps + 1) * self.every_n_env_steps
        if env_steps >= self._next_save:
            self._next_save = (env_steps // self.every_n_env_steps + 1) * self.every_n_env_steps
            self.save_now(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The final state of a finished run (unless it was just saved); rank 0 decides for all ranks."""
        missing = not Path(self.dirpath, f"env_steps={trainer.datamodule.env_steps}.ckpt").exists()
        if trainer.strategy.broadcast(missing):
            self.save_now(trainer)

    def save_now(self, trainer: L.Trainer) -> str:
        dm = trainer.datamodule
        dirpath = Path(self.dirpath)
        if trainer.is_global_zero:
            dirpath.mkdir(parents=True, exist_ok=True)
        name = f"env_steps={dm.env_steps}.ckpt"
        path = dirpath / name
        if self.save_replay:
            dm.save_replay(dirpath / f"env_steps={dm.env_steps}.replay")
        tmp = path.with_name(path.name + ".tmp")
        trainer.save_checkpoint(tmp, weights_only=False)  # every rank takes part; only global rank 0 writes
        if trainer.is_global_zero:
            os.replace(tmp, path)
            _atomic(lambda tmp: shutil.copyfile(path, tmp), dirpath / "last.ckpt")
            self._prune(dirpath)
        self.last_model_path = str(dirpath / "last.ckpt")
        self.best_model_path = str(path)
        return str(path)

    def _prune(self, dirpath: Path) -> None:
        saved = sorted(
            (int(m.group(1)), p) for p in dirpath.iterdir() if (m := _NAME.match(p.name)) is not None
        )
        milestones: dict[int, int] = {}  # multiple of keep_every -> the first checkpoint at or past it
        for steps, _ in saved:
            if self.keep_every is not None and steps >= self.keep_every:
                milestones.setdefault(steps // self.keep_every, steps)
        for steps, old in saved[: -self.keep_last]:
            if steps not in milestones.values():
                old.unlink(missing_ok=True)
            for sidecar in dirpath.glob(f"env_steps={steps}.*replay"):
                sidecar.unlink(missing_ok=True)

    def _find_last_checkpoints(self, trainer: L.Trainer) -> set[str]:
        found = set(super()._find_last_checkpoints(trainer))
        logger = trainer.logger
        if logger is not None and logger.save_dir is not None:
            run_dir = Path(logger.save_dir) / str(logger.name or "")
            found |= {str(p) for p in run_dir.glob("version_*/checkpoints/last.ckpt")}
        return found

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "next_save": self._next_save}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._next_save = state_dict.get("next_save")


def _atomic(write: Any, final: Path) -> None:
    tmp = final.with_name(final.name + ".tmp")
    write(tmp)
    os.replace(tmp, final)
