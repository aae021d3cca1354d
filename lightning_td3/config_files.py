"""Training configs read outside LightningCLI (the evaluation scripts), layered the way the CLI layers them.

`fit --config a.yaml --config b.yaml` lets b win: inside a section (`data`, `model`) key by key, while a
dict-valued key such as `data.env_kwargs` is replaced whole. The evaluation scripts take the same list of
files, so they drive the env the run trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A config file that cannot be read or is not a mapping."""


def read_config_files(paths: Sequence[str | Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            layer = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigFileError(f"cannot read {path}: {err}".splitlines()[0]) from err
        if not isinstance(layer, dict):
            raise ConfigFileError(f"{path}: expected a mapping of sections, got {type(layer).__name__}")
        for key, value in layer.items():
            below = merged.get(key)
            merged[key] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def read_tool_inputs(
    configs: Sequence[str | Path], checkpoints: Sequence[str | Path] = (), episodes: int | None = None
) -> dict[str, Any]:
    """An evaluation tool's inputs checked before any work: the episode count (if it takes one), that every
    checkpoint exists, then the layered configs. Raises `ConfigFileError` with the one-line message to print."""
    if episodes is not None and episodes < 1:
        raise ConfigFileError(f"--episodes must be >= 1, got {episodes}")
    missing = [c for c in checkpoints if not Path(c).is_file()]
    if missing:
        raise ConfigFileError(f"checkpoint not found: {missing[0]}")
    return read_config_files(configs)
