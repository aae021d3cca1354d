"""TD3 driven through a real Lightning Trainer: update schedule, logged tags, AMP clipping,
stability over hundreds of updates, evaluation metrics, checkpoint round trip."""

import math
import warnings

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import DataLoader

from lightning_td3.agent import TD3
from lightning_td3.agent.optim import block_params
from lightning_td3.agent.synthetic import SyntheticBatches

torch.set_num_threads(1)
warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
SHAPE = (4, 36, 36)
SMALL = dict(image_shape=SHAPE, vector_dim=3, feature_dim=32, hidden_dim=16)


class CaptureLogger(Logger):
    """Keeps every log_metrics call: [(step, {tag: value})]."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict[str, float]]] = []

    name, version = "capture", 0

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, *args, **kwargs) -> None:
        pass


def fit(module: TD3, num_batches: int, log_every: int = 1, callbacks=(), reward_scale: float = 1.0,
        pool: int = 0, ckpt_path: str | None = None,
        **trainer_kwargs) -> tuple[L.Trainer, CaptureLogger]:  # fmt: skip
    """Train on `num_batches` synthetic batches of 8 (cycling `pool` fixed ones if > 0), capture the logs."""
    logger = CaptureLogger()
    trainer = L.Trainer(
        max_epochs=trainer_kwargs.pop("max_epochs", 1), logger=logger, log_every_n_steps=log_every,
        callbacks=list(callbacks), accelerator="cpu", enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, **trainer_kwargs,
    )  # fmt: skip
    hp = module.hparams
    data = SyntheticBatches(num_batches, 8, pool=pool, image_shape=hp.image_shape, vector_dim=hp.vector_dim,
                            action_dim=hp.action_dim, reward_scale=reward_scale)  # fmt: skip
    trainer.fit(module, DataLoader(data, batch_size=None), ckpt_path=ckpt_path)
    return trainer, logger


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()]).clone()


class Snapshots(L.Callback):
    def __init__(self) -> None:
        self.rows: list[dict[str, torch.Tensor]] = []

    def snapshot(self, module: TD3) -> None:
        names = ["actor", "critic", "actor_encoder", "critic_encoder", "actor_target", "critic_target",
                 "actor_encoder_target", "critic_encoder_target"]  # fmt: skip
        self.rows.append({n: flat(getattr(module, n)) for n in names})

    def on_train_start(self, trainer, module) -> None:
        self.snapshot(module)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.snapshot(module)


def test_actor_and_targets_change_exactly_every_policy_delay_batches():
    torch.manual_seed(0)
    module = TD3(**SMALL, policy_delay=3, tau=0.1)
    snaps = Snapshots()
    fit(module, 7, callbacks=[snaps])
    assert (module.updates, module.actor_updates) == (7, 2)
    for i in range(1, 8):
        before, after = snaps.rows[i - 1], snaps.rows[i]
        changed = {name: not torch.equal(before[name], after[name]) for name in after}
        actor_step = i % 3 == 0
        assert changed["critic"] and changed["critic_encoder"], i
        for name in ("actor", "actor_encoder", "actor_target", "critic_target",
                     "actor_encoder_target", "critic_encoder_target"):  # fmt: skip
            assert changed[name] == actor_step, (i, name)
        if actor_step:
            for online in ("actor", "critic", "actor_encoder", "critic_encoder"):
                expected = 0.9 * before[f"{online}_target"] + 0.1 * after[online]
                torch.testing.assert_close(after[f"{online}_target"], expected)


CRITIC_TAGS = {"train/critic_loss", "train/q1", "train/q2", "train/target_q", "train/td_error",
               "gradients/critic_cnn_norm_before_clip", "gradients/critic_cnn_norm_after_clip",
               "gradients/critic_mlp_norm_before_clip", "gradients/critic_mlp_norm_after_clip",
               "lr/actor_cnn", "lr/actor_mlp", "lr/critic_cnn", "lr/critic_mlp"} | {
               f"debug/critic_cnn_feature_{s}" for s in ("l2_norm", "mean", "std", "min", "max")}  # fmt: skip
ACTOR_TAGS = {"train/actor_loss", "debug/actor_saturation", "debug/actor_action_mean_0", "debug/actor_action_mean_1",
              "debug/actor_action_change",
              "gradients/actor_cnn_norm_before_clip",
              "gradients/actor_cnn_norm_after_clip", "gradients/actor_mlp_norm_before_clip",
              "gradients/actor_mlp_norm_after_clip"} | {
              f"debug/actor_cnn_feature_{s}" for s in ("l2_norm", "mean", "std", "min", "max")}  # fmt: skip


def test_logged_tags_actor_metrics_only_on_actor_steps():
    torch.manual_seed(0)
    trainer, logger = fit(TD3(**SMALL, policy_delay=2), 4, log_every=1)
    assert [step for step, _ in logger.rows] == [1, 2, 3, 4]  # step = updates done
    for step, row in logger.rows:
        expected = CRITIC_TAGS | (ACTOR_TAGS if step % 2 == 0 else set())
        assert set(row) == expected, (step, set(row) ^ expected)
        assert all(math.isfinite(v) for v in row.values())
    row = logger.rows[1][1]
    assert trainer.callback_metrics["train/td_error"] == pytest.approx(logger.rows[-1][1]["train/td_error"])
    assert row["lr/actor_cnn"] == pytest.approx(1e-4) and row["lr/critic_mlp"] == pytest.approx(3e-4)
    assert row["gradients/actor_cnn_norm_after_clip"] <= 1.0 + 1e-5


def test_logging_interval_and_shared_encoder_tags():
    torch.manual_seed(0)
    _, logger = fit(TD3(**SMALL, encoder="shared", num_critics=1, policy_delay=1), 6, log_every=3)
    assert [step for step, _ in logger.rows] == [3, 6]
    shared_missing = {"train/q2", "lr/actor_cnn"} | {t for t in ACTOR_TAGS if "actor_cnn" in t}
    for _, row in logger.rows:
        assert set(row) == (CRITIC_TAGS | ACTOR_TAGS) - shared_missing


class ClipProbe(TD3):
    """Records each block's gradient norm right after the module's own clipping, before the step."""

    def on_before_optimizer_step(self, optimizer) -> None:
        super().on_before_optimizer_step(optimizer)
        network = optimizer.param_groups[0]["network"]
        for block, params in block_params(optimizer).items():
            norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
            self.probed.append((network, block, float(norm)))


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "16-mixed"])
def test_per_block_clipping_applies_to_unscaled_gradients(precision):
    torch.manual_seed(0)
    module = ClipProbe(**SMALL, actor_cnn_max_norm=1e-3, critic_cnn_max_norm=2e-3, critic_mlp_max_norm=1e-2)
    module.probed = []
    if precision == "16-mixed":  # Lightning maps 16-mixed to bf16 on CPU unless given the plugin itself
        amp = {"plugins": [MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu"))]}
    else:
        amp = {"precision": precision}
    trainer, logger = fit(module, 4, log_every=1, **amp)
    if precision == "16-mixed":
        scaler = trainer.precision_plugin.scaler
        assert scaler is not None and scaler.get_scale() > 1000
    max_norms = {("actor", "cnn"): 1e-3, ("critic", "cnn"): 2e-3, ("critic", "mlp"): 1e-2}
    finite = [(n, b, v) for n, b, v in module.probed if math.isfinite(v)]
    assert len(finite) >= 6  # fp16 may skip a step on overflow; most steps must count
    for network, block, norm in finite:
        if (network, block) in max_norms:  # clipped to exactly the max: it was clipped after unscaling
            assert norm == pytest.approx(max_norms[(network, block)], rel=1e-3), (network, block)
    for _, row in logger.rows:
        before = row["gradients/critic_cnn_norm_before_clip"]
        if math.isfinite(before):
            assert 2e-3 < before < 1e3  # an unscaled norm (a 16-mixed scaled one would be ~65536x larger)
            assert row["gradients/critic_cnn_norm_after_clip"] == pytest.approx(2e-3, rel=1e-3)


def l2_series(logger: CaptureLogger) -> list[float]:
    return [row["debug/critic_cnn_feature_l2_norm"] for _, row in logger.rows]


def test_hundreds_of_updates_stay_bounded_with_layer_norm_and_grow_without():
    """Large rewards (scale 1000), no clipping: LayerNorm alone keeps the features at their initial scale;
    the same run without it shows the growth the feature-norm monitor exists to catch."""
    runs = {}
    for layer_norm in (True, False):
        torch.manual_seed(0)
        module = TD3(image_shape=SHAPE, layer_norm=layer_norm, critic_cnn_max_norm=None,
                     actor_cnn_max_norm=None)  # fmt: skip
        _, logger = fit(module, 300, log_every=50, reward_scale=1000.0, pool=16)
        assert module.updates == 300 and len(logger.rows) == 6
        assert all(math.isfinite(v) for _, row in logger.rows for v in row.values())
        runs[layer_norm] = l2_series(logger)
    assert all(10 < v < 100 for v in runs[True]), runs[True]
    assert max(runs[True]) / runs[True][0] < 1.5, runs[True]
    assert runs[False][-1] / runs[False][0] > 10, runs[False]


EPISODES = [
    {"return": [10.0, 20.0, 30.0], "length": [100.0, 200.0, 300.0], "success": [1.0, 0.0, 1.0],
     "collisions": [1.0, 0.0, 0.0], "distance": [500.0, 1000.0, 0.0], "route_completion": [1.0, 0.5, 1.0],
     "avg_speed": [5.0, 6.0, 7.0]},
    {"return": [40.0], "length": [400.0], "success": [0.0], "collisions": [2.0], "distance": [500.0],
     "route_completion": [0.1], "avg_speed": [2.0]},
]  # fmt: skip


def episode_loader(episodes: list[dict[str, list[float]]]) -> DataLoader:
    batches = [{k: torch.tensor(v) for k, v in e.items()} for e in episodes]
    return DataLoader(batches, batch_size=None)


def evaluation_trainer() -> L.Trainer:
    return L.Trainer(logger=False, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False)


@pytest.mark.parametrize("stage, prefix", [("validate", "eval"), ("test", "test")])
def test_evaluation_metrics_aggregate_whole_episodes(stage, prefix):
    trainer = evaluation_trainer()
    (metrics,) = getattr(trainer, stage)(TD3(**SMALL), episode_loader(EPISODES), verbose=False)
    expected = {"return_mean": 25.0, "return_std": math.sqrt(125.0), "success_rate": 0.5,
                "collisions_per_km": 3 / 2.0, "route_completion": 0.65, "avg_speed": 5.0,
                "episode_length": 250.0}  # fmt: skip
    assert set(metrics) == {f"{prefix}/{k}" for k in expected}
    for key, value in expected.items():
        assert metrics[f"{prefix}/{key}"] == pytest.approx(value, rel=1e-6), key


def test_collisions_per_km_is_zero_without_distance_and_missing_keys_are_an_error():
    trainer = evaluation_trainer()
    parked = {**EPISODES[1], "distance": [0.0]}
    (metrics,) = trainer.validate(TD3(**SMALL), episode_loader([parked]), verbose=False)
    assert metrics["eval/collisions_per_km"] == 0.0
    broken = {k: v for k, v in EPISODES[1].items() if k != "distance"}
    with pytest.raises(ValueError, match=r"missing keys \['distance'\]"):
        trainer.validate(TD3(**SMALL), episode_loader([broken]), verbose=False)


def test_checkpoint_round_trip_restores_counters_targets_and_continues(tmp_path):
    torch.manual_seed(0)
    module = TD3(**SMALL, policy_delay=2, encoder="shared")
    trainer, _ = fit(module, 5)
    path = tmp_path / "td3.ckpt"
    trainer.save_checkpoint(path)
    restored = TD3.load_from_checkpoint(path)
    assert (restored.updates, restored.actor_updates) == (5, 2)
    assert restored.hparams.encoder == "shared" and restored.actor_encoder is None
    for key, value in module.state_dict().items():
        assert torch.equal(value, restored.state_dict()[key]), key
    resumed = TD3(**SMALL, policy_delay=2, encoder="shared")
    fit(resumed, 5, max_epochs=2, ckpt_path=str(path))
    assert (resumed.updates, resumed.actor_updates) == (10, 5)


def test_batch_that_does_not_match_the_module_is_a_value_error():
    trainer = L.Trainer(max_epochs=1, logger=False, accelerator="cpu", enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
    data = DataLoader(SyntheticBatches(1, 8, image_shape=SHAPE, vector_dim=5), batch_size=None)
    message = r"batch has obs_vector \[8, 5\], action \[8, 2\]; the module has vector_dim 3, action_dim 2"
    with pytest.raises(ValueError, match=message):
        trainer.fit(TD3(**SMALL), data)


def test_actor_saturation_action_means_and_action_change_are_logged():
    torch.manual_seed(0)
    module = TD3(**SMALL, policy_delay=1)
    with torch.no_grad():
        module.actor.net[-1].bias.copy_(torch.tensor([20.0, -20.0]))  # tanh pinned at (+1, -1)
    _, logger = fit(module, 1, log_every=1)
    row = logger.rows[0][1]
    assert row["debug/actor_saturation"] == pytest.approx(1.0)
    assert row["debug/actor_action_mean_0"] == pytest.approx(1.0, abs=1e-3)
    assert row["debug/actor_action_mean_1"] == pytest.approx(-1.0, abs=1e-3)
    assert row["debug/actor_action_change"] == pytest.approx(0.0, abs=1e-6)  # a pinned actor never changes
