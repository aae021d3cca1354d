"""`make_env(name, **kwargs)`: one entry point from a config string to a contract env.

Names: a registered name (`racetrack`, `carla`), `gym:<gymnasium id>` (pixel adapter), or a class path
(`package.module.Class` or `package.module:Class`). Registered envs are imported lazily, so a missing
optional dependency (CARLA) only matters when that env is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

REGISTRY: dict[str, str] = {
    "racetrack": "lightning_td3.envs.racetrack:RacetrackEnv",
    "carla": "lightning_td3.envs.carla.env:CarlaEnv",
}
GYM_PREFIX = "gym:"


def registered_names() -> list[str]:
    return [*REGISTRY, f"{GYM_PREFIX}<id>", "<package.module.Class>"]


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ModuleNotFoundError, AttributeError) as err:
        raise ValueError(f"cannot import env class {path!r}: {err}") from err


def make_env(name: str, **kwargs: Any) -> gym.Env:
    """Build the env called `name` with `kwargs` as its constructor arguments."""
    if name.startswith(GYM_PREFIX):
        from lightning_td3.envs.gym_adapter import GymPixelAdapter

        return GymPixelAdapter(name[len(GYM_PREFIX):], **kwargs)
    if name in REGISTRY:
        return _import(REGISTRY[name])(**kwargs)
    if "." in name:
        return _import(name)(**kwargs)
    raise ValueError(f"unknown env {name!r}; registered: {', '.join(registered_names())}")
