"""TD3 pieces called directly: target by hand, losses, gradient isolation, polyak, act(), config errors."""

import numpy as np
import pytest
import torch
from torch import nn

from lightning_td3.agent import TD3
from lightning_td3.agent.synthetic import synthetic_batch

torch.set_num_threads(1)
SHAPE = (4, 36, 36)


def small_td3(**kwargs) -> TD3:
    torch.manual_seed(0)
    defaults = dict(image_shape=SHAPE, vector_dim=3, feature_dim=32, hidden_dim=16)
    return TD3(**{**defaults, **kwargs})


def batch(size: int = 8, seed: int = 0, **kwargs) -> dict[str, torch.Tensor]:
    return synthetic_batch(size, SHAPE, vector_dim=3, generator=torch.Generator().manual_seed(seed), **kwargs)


class FixedActor(nn.Module):
    def __init__(self, actions: list[list[float]]) -> None:
        super().__init__()
        self.actions = torch.tensor(actions)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.actions


class LinearTwinCritic(nn.Module):
    """Q1 = a0 + 2 a1 + 1, Q2 = a0 - a1 + 0.5, whatever the state."""

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.stack([action[:, 0] + 2 * action[:, 1] + 1, action[:, 0] - action[:, 1] + 0.5])


def test_td_target_by_hand_twin_min_noise_clip_and_termination():
    module = small_td3(noise_clip=0.5)
    module.actor_target = FixedActor([[0.9, -0.2], [0.0, 0.5], [-0.95, 0.3]])
    module.critic_target = LinearTwinCritic()
    b = batch(3)
    b["reward"] = torch.tensor([1.0, 2.0, 3.0])
    b["terminated"] = torch.tensor([0.0, 1.0, 0.0])  # 0 and 2 bootstrap (as a truncated end does)
    b["discount"] = torch.tensor([0.99, 0.99, 0.9801])  # sample 2: a 2-step return
    noise = torch.tensor([[0.7, 0.1], [-0.3, -0.9], [-0.2, 0.0]])
    # clipped noise [[.5,.1],[-.3,-.5],[-.2,0]] -> mu + noise = [[1.4,-.1],[-.3,0],[-1.15,.3]]
    # -> clamped to [-1, 1]: [[1,-.1],[-.3,0],[-1,.3]]
    # Q1 = [1.8, 0.7, 0.6], Q2 = [1.6, 0.2, -0.8], min = [1.6, 0.2, -0.8]
    expected = torch.tensor([1 + 0.99 * 1.6, 2.0, 3 + 0.9801 * -0.8])
    torch.testing.assert_close(module.td_target(b, noise=noise), expected)


def test_td_target_without_discount_key_uses_gamma_and_single_critic_has_no_min():
    module = small_td3(gamma=0.9, num_critics=1, policy_noise=0.0)
    module.actor_target = FixedActor([[0.5, 0.25]])
    b = batch(1)
    del b["discount"]
    b["reward"], b["terminated"] = torch.tensor([1.0]), torch.tensor([0.0])
    head = module.critic_target.heads[0]
    next_state = torch.cat([module.critic_encoder_target(b["next_obs_image"]), b["next_obs_vector"]], dim=-1)
    q = head(torch.cat([next_state, torch.tensor([[0.5, 0.25]])], dim=-1)).squeeze(-1)
    torch.testing.assert_close(module.td_target(b), 1.0 + 0.9 * q)


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_td_target_matches_naive_reference_with_real_networks(encoder):
    module = small_td3(encoder=encoder)
    b = batch(8)
    noise = torch.randn(8, 2) * 0.2
    actor_encoder = module.critic_encoder_target if encoder == "shared" else module.actor_encoder_target
    actor_state = torch.cat([actor_encoder(b["next_obs_image"]), b["next_obs_vector"]], dim=1)
    critic_state = torch.cat([module.critic_encoder_target(b["next_obs_image"]), b["next_obs_vector"]], dim=1)
    action = (module.actor_target(actor_state) + noise.clamp(-0.5, 0.5)).clamp(-1, 1)
    qs = [h(torch.cat([critic_state, action], 1)).squeeze(1) for h in module.critic_target.heads]
    expected = b["reward"] + b["discount"] * (1 - b["terminated"]) * torch.minimum(*qs)
    torch.testing.assert_close(module.td_target(b, noise=noise), expected)


def test_critic_loss_is_sum_of_per_head_mse():
    module = small_td3()
    b = batch(8)
    torch.manual_seed(1)
    loss, q, target, _ = module.critic_loss(b)
    assert q.shape == (2, 8) and target.shape == (8,)
    expected = ((q[0] - target) ** 2).mean() + ((q[1] - target) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    assert not target.requires_grad


def grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_actor_loss_puts_no_gradient_on_critic_or_shared_encoder(encoder):
    module = small_td3(encoder=encoder)
    b = batch(8)
    _, _, _, critic_state = module.critic_loss(b)
    actor_loss, _ = module.actor_loss(b, critic_state)
    actor_loss.backward()
    assert all(g is None for g in grads(module.critic)), "critic heads got actor gradient"
    assert all(g is None for g in grads(module.critic_encoder)), "critic/shared encoder got actor gradient"
    assert all(g is not None and g.abs().sum() > 0 for g in grads(module.actor))
    if encoder == "separate":
        assert all(g is not None for g in grads(module.actor_encoder))
    assert all(p.requires_grad for p in module.critic.parameters()), "critic left frozen"


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_actor_loss_with_action_smoothness_matches_naive_formula(encoder):
    """-mean Q1 + lambda * mean|Q1| * mean ||mu(s) - mu(s')||^2, s' encoded by the online encoder."""
    plain, smooth = small_td3(encoder=encoder), small_td3(encoder=encoder, action_smoothness=0.3)
    b = batch(8)
    _, _, _, critic_state = smooth.critic_loss(b)
    loss, actor_state = smooth.actor_loss(b, critic_state)

    action = smooth.actor(actor_state)
    q1 = smooth.critic.q1(critic_state, action)
    own_encoder = smooth.critic_encoder if encoder == "shared" else smooth.actor_encoder
    next_state = torch.cat([own_encoder(b["next_obs_image"]), b["next_obs_vector"]], dim=-1)
    change = (action - smooth.actor(next_state)).pow(2).sum(dim=1)
    torch.testing.assert_close(loss, -q1.mean() + 0.3 * q1.abs().mean() * change.mean())
    assert change.mean() > 1e-4, "the two states gave one action: the test would not see the term"
    torch.testing.assert_close(plain.actor_loss(b, critic_state)[0], -q1.mean())  # same weights (seed 0)


def test_action_smoothness_gradient_pulls_the_two_actions_together():
    """A step on the term alone (critic flat, Q1 = 1) brings mu(s) and mu(s') closer; encoders untouched."""
    module = small_td3(encoder="shared", action_smoothness=1.0)
    module.critic.q1 = lambda state, action: torch.ones(len(action)) + 0 * action.sum(dim=1)
    b = batch(16)
    critic_state = module.encode_state(module.critic_encoder, b["obs_image"], b["obs_vector"])
    before = module.action_change(b, module.actor(critic_state)).mean().item()
    optimizer = torch.optim.Adam(module.actor.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss, _ = module.actor_loss(b, critic_state)
        loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in module.critic_encoder.parameters())
    after = module.action_change(b, module.actor(critic_state)).mean().item()
    assert after < 0.5 * before, (before, after)


def test_critic_loss_puts_no_gradient_on_actor_or_targets():
    module = small_td3()
    loss, *_ = module.critic_loss(batch(8))
    loss.backward()
    for net in (module.actor, module.actor_encoder, module.actor_target, module.critic_target,
                module.critic_encoder_target, module.actor_encoder_target):  # fmt: skip
        assert all(g is None for g in grads(net))
    assert all(g is not None for g in grads(module.critic_encoder))


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_update_targets_moves_every_target_by_tau(encoder):
    module = small_td3(encoder=encoder, tau=0.25)
    pairs = [(module.actor, module.actor_target), (module.critic, module.critic_target),
             (module.critic_encoder, module.critic_encoder_target)]  # fmt: skip
    if encoder == "separate":
        pairs.append((module.actor_encoder, module.actor_encoder_target))
    with torch.no_grad():
        for online, _ in pairs:
            for p in online.parameters():
                p.add_(torch.randn_like(p))
    before = [[t.clone() for t in target.parameters()] for _, target in pairs]
    module.update_targets()
    for (online, target), old in zip(pairs, before, strict=True):
        for o, t, t0 in zip(online.parameters(), target.parameters(), old, strict=True):
            torch.testing.assert_close(t, 0.75 * t0 + 0.25 * o)
    if encoder == "shared":
        assert module.actor_encoder is None and module.actor_encoder_target is None


def test_act_shapes_range_determinism_and_exploration():
    module = small_td3()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    obs = {"image": image, "vector": rng.normal(size=3).astype(np.float32)}
    action = module.act(obs)
    assert action.shape == (2,) and action.dtype == np.float32 and np.all(np.abs(action) <= 1)
    state = torch.cat([module.actor_encoder(torch.as_tensor(obs["image"])[None]),
                       torch.as_tensor(obs["vector"])[None]], dim=1)  # fmt: skip
    np.testing.assert_allclose(action, module.actor(state)[0].detach().numpy(), rtol=1e-6)
    batched = {"image": np.stack([obs["image"]] * 5), "vector": np.stack([obs["vector"]] * 5)}
    actions = module.act(batched)
    assert actions.shape == (5, 2)
    np.testing.assert_allclose(actions, np.broadcast_to(action, (5, 2)), rtol=1e-5)
    noisy = module.act(batched, explore=True, noise_std=0.3)
    assert np.all(np.abs(noisy) <= 1) and 0.05 < np.abs(noisy - actions).mean() < 0.5
    module.eval()
    np.testing.assert_allclose(module.act(obs), action, rtol=1e-6)
    assert not module.training  # act leaves the mode alone


def test_act_without_vector_and_bad_observations():
    module = small_td3(vector_dim=0, encoder="shared")
    image = np.zeros(SHAPE, np.uint8)
    assert module.act({"image": image}).shape == (2,)
    with pytest.raises(ValueError, match="uint8"):
        module.act({"image": image.astype(np.float32)})
    with pytest.raises(ValueError, match=r"observation\['vector'\] must be \[0\] per image, got \[3\]"):
        module.act({"image": image, "vector": np.zeros(3, np.float32)})


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(policy_delay=0), "policy_delay must be >= 1"),
     (dict(tau=0.0), r"tau must be in \(0, 1\]"),
     (dict(tau=1.5), r"tau must be in \(0, 1\]"),
     (dict(layer_norm="conv"), r"layer_norm must be true, false or one of \(.all., .fc., .none.\), got .conv."),
     (dict(num_critics=3), "num_critics must be 1 or 2"),
     (dict(encoder="twin"), "encoder must be 'separate' or 'shared'"),
     (dict(gamma=1.1), r"gamma must be in \[0, 1\]"),
     (dict(policy_noise=-0.1), "policy_noise and noise_clip must be >= 0"),
     (dict(critic_cnn_lr=0.0), "learning rates must be > 0"),
     (dict(actor_cnn_max_norm=0.0), "actor_cnn_max_norm must be > 0 or None"),
     (dict(optimizer="sgd"), "optimizer must be 'adam' or 'adamw'"),
     (dict(weight_decay=-1.0), "weight_decay must be >= 0"),
     (dict(action_smoothness=-0.1), "action_smoothness must be >= 0"),
     (dict(image_shift=-1), r"image_shift must be an int in \[0, image size\), got -1"),
     (dict(image_shift=36), r"image_shift must be an int in \[0, image size\), got 36"),
     (dict(image_shape=(4, 84)), r"image_shape must be \(S,H,W\)")],
)  # fmt: skip
def test_bad_hyperparameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_td3(**kwargs)
