"""The learner: LayerNorm pixel encoders, actor and critic heads, the TD3 LightningModule."""

from lightning_td3.agent.encoder import PixelEncoder
from lightning_td3.agent.networks import Actor, Critic
from lightning_td3.agent.td3 import TD3

__all__ = ["TD3", "Actor", "Critic", "PixelEncoder"]
