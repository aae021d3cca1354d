"""lightning-td3: TD3 from pixels for driving, on PyTorch Lightning.

Top-level names are imported lazily so that `lightning_td3.envs` stays free of torch.
"""

from typing import Any

__all__ = ["TD3", "TD3DataModule"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "TD3":
        from lightning_td3.agent.td3 import TD3

        return TD3
    if name == "TD3DataModule":
        from lightning_td3.data import TD3DataModule

        return TD3DataModule
    raise AttributeError(f"module 'lightning_td3' has no attribute {name!r}")
