"""Actor and critic heads. They read a state vector (encoder features ++ kinematic vector).

Encoders live outside the heads so that the TD3 module decides which encoder feeds which head
(`separate`: one encoder per network; `shared`: one encoder, computed once per batch).
"""

from __future__ import annotations

import torch
from torch import nn

from lightning_td3.agent.compiling import CompilableModule


def mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """in -> hidden -> hidden -> out with ReLU between (the reference's 256-256 heads)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, out_dim),
    )


class Actor(CompilableModule):
    """Deterministic policy: state [B, state_dim] -> action [B, action_dim] in [-1, 1]."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 256) -> None:
        super().__init__()
        self.net = mlp(state_dim, hidden_dim, action_dim)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.run("_forward", state)

    def _forward(self, state: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(state))


class Critic(CompilableModule):
    """An ensemble of `num_critics` independent Q heads: (state, action) -> Q values [num_critics, B].

    One head is DDPG's critic, two are TD3's twin critics (the target takes their minimum).
    """

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 256, num_critics: int = 2) -> None:
        super().__init__()
        if num_critics not in (1, 2):
            raise ValueError(f"num_critics must be 1 or 2, got {num_critics}")
        self.heads = nn.ModuleList(mlp(state_dim + action_dim, hidden_dim, 1) for _ in range(num_critics))

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.run("_forward", state, action)

    def q1(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first head only [B]: what the actor maximizes."""
        return self.run("_q1", state, action)

    def _forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        state_action = torch.cat([state, action], dim=-1)
        return torch.stack([head(state_action).squeeze(-1) for head in self.heads])

    def _q1(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.heads[0](torch.cat([state, action], dim=-1)).squeeze(-1)
