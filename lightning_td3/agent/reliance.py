"""How much a trained agent's action and Q value depend on its pixels versus its kinematic vector.

The state the heads read is `encoder(image) ++ vector`. Permutation importance (Breiman, 2001) asks what
changes when one part is swapped between the states of a batch, the other part kept: if the actor's
action barely moves when every state gets another state's image features, the policy drives from the
vector. It is scale-free, so a LayerNorm'd encoder and an unnormalised one compare directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lightning_td3.agent.td3 import TD3


@dataclass(frozen=True)
class Reliance:
    """Mean change when one input part is permuted across the batch; Q changes are relative to Q's std."""

    action_change_pixels: float
    action_change_vector: float
    q_change_pixels: float
    q_change_vector: float
    feature_l2: float  # mean L2 norm of the critic encoder's features on these states

    @property
    def pixel_share(self) -> float:
        """Pixels' part of the actor's total permutation importance, 0 (vector only) to 1 (pixels only)."""
        total = self.action_change_pixels + self.action_change_vector
        return self.action_change_pixels / total if total > 0 else float("nan")


@torch.no_grad()
def input_reliance(agent: TD3, images: torch.Tensor, vectors: torch.Tensor, seed: int = 0) -> Reliance:
    """Permutation importance of the pixel features and of the vector, for the actor and the first critic.

    images: uint8 [N, S, H, W]; vectors: [N, D]. N >= 2 states; the permutation has no fixed points.
    """
    n = len(images)
    if n < 2 or len(vectors) != n:
        raise ValueError(f"need >= 2 states with one vector each, got {n} images and {len(vectors)} vectors")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = order.roll(-1)  # one random n-cycle: every state gets another, randomly chosen, state's part
    vectors = vectors.to(torch.float32)

    critic_features = agent.critic_encoder(images)
    actor_features = critic_features if agent.shared else agent.actor_encoder(images)
    action = agent.actor(torch.cat([actor_features, vectors], dim=-1))
    q = agent.critic.q1(torch.cat([critic_features, vectors], dim=-1), action)
    q_scale = q.std().clamp_min(1e-8)

    def change(features_perm: bool) -> tuple[float, float]:
        fa, fc, v = actor_features, critic_features, vectors
        if features_perm:
            fa, fc = fa[perm], fc[perm]
        else:
            v = v[perm]
        new_action = agent.actor(torch.cat([fa, v], dim=-1))
        new_q = agent.critic.q1(torch.cat([fc, v], dim=-1), action)  # the same action: Q's own reliance
        return float((new_action - action).norm(dim=-1).mean()), float(((new_q - q).abs() / q_scale).mean())

    action_pixels, q_pixels = change(features_perm=True)
    action_vector, q_vector = change(features_perm=False)
    return Reliance(action_pixels, action_vector, q_pixels, q_vector, float(critic_features.norm(dim=-1).mean()))
