"""`lightning-td3 fit|validate|test`: a LightningCLI over TD3 and TD3DataModule.

Input sizes are linked from the data module's env into the model; gamma from the model into the
data module (n-step returns); the evaluation cadence (env steps) into `trainer.val_check_interval`
(batches). Every key is parsed by jsonargparse: an unknown or mistyped key is an error.
"""

from __future__ import annotations

import os
import re
import sys
from argparse import ArgumentError
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from lightning_td3.agent.td3 import TD3
from lightning_td3.callbacks.checkpoint import EnvStepCheckpoint
from lightning_td3.callbacks.feature_norm import FeatureNormMonitor, TrainingHalted
from lightning_td3.callbacks.rollout_logger import DrivingProgressBar, RolloutLogger
from lightning_td3.data import ReplaySidecarError, TD3DataModule

TRAINER_DEFAULTS = {
    "max_epochs": -1,  # the run ends at `data.max_env_steps` (the stream stops the trainer)
    "num_sanity_val_steps": 0,
    "check_val_every_n_epoch": None,  # evaluation cadence is in batches (from env steps), not epochs
    "log_every_n_steps": 50,
    "default_root_dir": "lightning_logs",
    "logger": {
        "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
        "init_args": {"save_dir": "lightning_logs", "name": "td3"},
    },
}


def eval_interval_batches(eval_every_env_steps: int, env_steps_per_update: float) -> int:
    return max(1, round(eval_every_env_steps / env_steps_per_update))


class TD3CLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(EnvStepCheckpoint, "checkpoint")
        parser.add_lightning_class_args(FeatureNormMonitor, "feature_monitor")
        parser.add_lightning_class_args(RolloutLogger, "rollout_logger")
        parser.add_argument(
            "--eval_every_env_steps", type=int, default=10_000, help="evaluate every N env steps (after warm-up)"
        )
        parser.link_arguments("model.gamma", "data.gamma")
        parser.link_arguments("seed_everything", "data.seed")
        parser.link_arguments(
            ("eval_every_env_steps", "data.env_steps_per_update"),
            "trainer.val_check_interval",
            compute_fn=eval_interval_batches,
        )
        for attribute in ("image_shape", "vector_dim", "action_dim"):
            parser.link_arguments(f"data.{attribute}", f"model.{attribute}", apply_on="instantiate")

    def _instantiate_trainer(self, config: dict, callbacks: list) -> Any:
        if config.get("enable_progress_bar") is not False:
            callbacks = [*callbacks, DrivingProgressBar()]
        return super()._instantiate_trainer(config, callbacks)

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config)
        if config.get("eval_every_env_steps", 1) < 1:
            raise ValueError(f"eval_every_env_steps must be >= 1, got {config['eval_every_env_steps']}")
        ckpt_path = config.get("ckpt_path")
        if ckpt_path not in (None, "last", "best", "hpc") and not Path(ckpt_path).is_file():
            raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")

    def _resume_into_same_version(self) -> None:
        """Logs of a resumed run continue in the folder of the run they resume."""
        config = self.config[self.subcommand]
        ckpt_path = config.get("ckpt_path")
        logger = self.trainer.logger
        if ckpt_path is None or logger is None or not hasattr(logger, "_version"):
            return
        if ckpt_path == "last":
            cb = self.trainer.checkpoint_callback
            found = cb._find_last_checkpoints(self.trainer) if isinstance(cb, EnvStepCheckpoint) else set()
            if not found:
                return
            ckpt_path = max(found, key=os.path.getmtime)
        match = re.search(r"version_(\d+)[/\\]checkpoints[/\\][^/\\]+$", str(ckpt_path))
        if match and Path(ckpt_path).resolve().parent.parent.parent == Path(logger.root_dir).resolve():
            logger._version = int(match.group(1))

    def before_fit(self) -> None:
        self.model.check_cuda_graph_setup(self.trainer)  # before anything is written
        self._resume_into_same_version()


def main(args: list[str] | None = None) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    try:
        TD3CLI(
            TD3,
            TD3DataModule,
            subclass_mode_model=False,
            subclass_mode_data=False,
            seed_everything_default=0,
            trainer_defaults=TRAINER_DEFAULTS,
            save_config_kwargs={"overwrite": True},
            args=args,
            parser_kwargs={"exit_on_error": False},
        )
    except (ArgumentError, ValueError, FileNotFoundError, MisconfigurationException, ReplaySidecarError,
            TrainingHalted) as err:  # fmt: skip
        print(f"lightning-td3: error: {_one_line(err)}", file=sys.stderr)
        sys.exit(2 if not isinstance(err, TrainingHalted) else 3)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


if __name__ == "__main__":
    main()
