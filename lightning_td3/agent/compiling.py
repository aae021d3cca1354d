"""Opt-in `torch.compile` of a network's pure tensor math, per instance, never carried into copies.

The networks compile their own math (not their `__call__`), so forward hooks such as the feature-norm
monitor's stay in eager Python, and a deep copy (how target networks are made) or a pickle starts
uncompiled instead of calling the original's compiled function with the original's weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class CompilableModule(nn.Module):
    """`self.run("method", *args)` calls the method, or its torch.compile'd form after `set_compiled(True)`."""

    def __init__(self) -> None:
        super().__init__()
        self._compile = False

    @property
    def compiled(self) -> bool:
        return self._compile

    def set_compiled(self, enabled: bool) -> None:
        """Compile lazily on the next call (torch.compile needs no example input); False drops the compiled code."""
        self._compile = bool(enabled)
        self.__dict__.pop("_compiled_fns", None)

    def run(self, name: str, *args: Any) -> Any:
        method: Callable[..., Any] = getattr(self, name)
        if not self._compile:
            return method(*args)
        cache = self.__dict__.setdefault("_compiled_fns", {})
        if name not in cache:
            cache[name] = torch.compile(method)
        return cache[name](*args)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_compiled_fns", None)
        return state
