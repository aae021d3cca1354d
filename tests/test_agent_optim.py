"""Optimizer parameter groups (lr, weight decay) and per-block gradient clipping."""

import pytest
import torch

from lightning_td3.agent import TD3
from lightning_td3.agent.optim import block_params, clip_blocks
from lightning_td3.agent.synthetic import synthetic_batch

torch.set_num_threads(1)
SHAPE = (4, 36, 36)


def small_td3(**kwargs) -> TD3:
    torch.manual_seed(0)
    return TD3(image_shape=SHAPE, vector_dim=3, feature_dim=32, hidden_dim=16, **kwargs)


def ids(params) -> set[int]:
    return {id(p) for p in params}


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_groups_carry_configured_lr_and_decay_only_on_weights(encoder):
    module = small_td3(encoder=encoder, actor_cnn_lr=1e-5, actor_mlp_lr=2e-4, critic_cnn_lr=3e-5,
                       critic_mlp_lr=4e-4, weight_decay=0.01)  # fmt: skip
    actor_opt, critic_opt = module.configure_optimizers()
    lrs = {("actor", "cnn"): 1e-5, ("actor", "mlp"): 2e-4, ("critic", "cnn"): 3e-5, ("critic", "mlp"): 4e-4}
    weights = ids(m.weight for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    norm_layers = [m for m in module.modules() if isinstance(m, torch.nn.LayerNorm)]
    layer_norms = ids(p for m in norm_layers for p in m.parameters())
    assert any(p.ndim == 3 and id(p) in layer_norms for p in module.critic_encoder.parameters())
    for opt in (actor_opt, critic_opt):
        for group in opt.param_groups:
            assert group["lr"] == lrs[(group["network"], group["block"])]
            for p in group["params"]:
                assert group["weight_decay"] == (0.01 if id(p) in weights else 0.0)
    undecayed = ids(p for g in critic_opt.param_groups if g["weight_decay"] == 0 for p in g["params"])
    assert ids(p for p in module.critic_encoder.parameters() if id(p) in layer_norms) <= undecayed

    actor_blocks, critic_blocks = block_params(actor_opt), block_params(critic_opt)
    assert ids(critic_blocks["cnn"]) == ids(module.critic_encoder.parameters())
    assert ids(critic_blocks["mlp"]) == ids(module.critic.parameters())
    assert ids(actor_blocks["mlp"]) == ids(module.actor.parameters())
    if encoder == "separate":
        assert ids(actor_blocks["cnn"]) == ids(module.actor_encoder.parameters())
    else:
        assert "cnn" not in actor_blocks  # the shared encoder is trained by the critic only
    all_params = [p for g in actor_opt.param_groups + critic_opt.param_groups for p in g["params"]]
    assert len(all_params) == len(ids(all_params)), "a parameter is in two groups"
    targets = [module.actor_target, module.critic_target, module.critic_encoder_target]
    assert not ids(all_params) & ids(p for t in targets for p in t.parameters())


def test_adamw_choice():
    actor_opt, _ = small_td3(optimizer="adamw").configure_optimizers()
    assert isinstance(actor_opt, torch.optim.AdamW)


def test_clip_blocks_clips_each_block_to_its_max_and_leaves_unclipped_blocks_alone():
    module = small_td3()
    _, critic_opt = module.configure_optimizers()
    g = torch.Generator().manual_seed(0)
    b = synthetic_batch(8, SHAPE, vector_dim=3, reward_scale=100.0, generator=g)
    loss, *_ = module.critic_loss(b)
    loss.backward()
    blocks = block_params(critic_opt)
    naive = {k: torch.sqrt(sum((p.grad**2).sum() for p in v)) for k, v in blocks.items()}
    mlp_grads = [p.grad.clone() for p in blocks["mlp"]]
    assert naive["cnn"] > 0.5  # so a max norm of 0.5 really clips

    norms = clip_blocks(critic_opt, {"cnn": 0.5, "mlp": None}, measure=True)
    torch.testing.assert_close(norms["cnn"][0], naive["cnn"])
    torch.testing.assert_close(norms["mlp"][0], naive["mlp"])
    clipped = torch.sqrt(sum((p.grad**2).sum() for p in blocks["cnn"]))
    assert clipped <= 0.5 * (1 + 1e-5) and abs(clipped - 0.5) < 1e-4
    torch.testing.assert_close(norms["cnn"][1], clipped)
    for before, p in zip(mlp_grads, blocks["mlp"], strict=True):
        assert torch.equal(before, p.grad)
    assert clip_blocks(critic_opt, {"cnn": 0.5, "mlp": None}, measure=False) == {}
