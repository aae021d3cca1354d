"""FeatureNormMonitor: feature-norm thresholds and gradient alerts, on real training steps."""

import math
import warnings

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from lightning_td3.agent import TD3
from lightning_td3.agent.synthetic import SyntheticBatches
from lightning_td3.callbacks.feature_norm import FeatureNormMonitor, TrainingHalted, gradient_alerts

torch.set_num_threads(1)
warnings.filterwarnings("ignore", ".*does not have many workers.*")
SHAPE = (4, 36, 36)
MAX_NORMS = {"critic": {"cnn": 10.0, "mlp": None}, "actor": {"cnn": 1.0, "mlp": None}}


def fit(monitor: FeatureNormMonitor, batches: int = 6, **module_kwargs) -> TD3:
    torch.manual_seed(0)
    module = TD3(image_shape=SHAPE, vector_dim=3, feature_dim=32, hidden_dim=16, **module_kwargs)
    trainer = L.Trainer(max_epochs=1, logger=False, log_every_n_steps=2, accelerator="cpu", callbacks=[monitor],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, DataLoader(SyntheticBatches(batches, 8, image_shape=SHAPE, vector_dim=3), batch_size=None))
    return module


def test_gradient_alerts_flag_a_clip_that_did_not_hold_and_non_finite_norms():
    healthy = {"gradients/critic_cnn_norm_before_clip": 250.0, "gradients/critic_cnn_norm_after_clip": 10.0,
               "gradients/critic_mlp_norm_after_clip": 1e4, "train/critic_loss": 3.0}  # mlp: no max norm
    assert gradient_alerts(healthy, MAX_NORMS) == ([], [])
    broken = {"gradients/actor_cnn_norm_after_clip": 1.5, "gradients/critic_cnn_norm_before_clip": math.nan}
    warned, critical = gradient_alerts(broken, MAX_NORMS)
    assert warned == ["gradient actor_cnn_norm_after_clip 1.5 is above its max norm 1"]
    assert critical == ["gradient critic_cnn_norm_before_clip is nan"]


def test_healthy_training_raises_no_alert():
    monitor = FeatureNormMonitor(every_n_updates=2)
    fit(monitor)
    assert (monitor.warnings, monitor.criticals, monitor.gradient_warnings, monitor.gradient_criticals) == (0, 0, 0, 0)


def test_gradient_warning_fires_when_clipping_does_not_hold(monkeypatch):
    def measure_only(optimizer, max_norms, measure):  # a clip that forgets to clip
        from lightning_td3.agent.optim import block_params

        norms = {}
        for block, params in block_params(optimizer).items():
            norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
            norms[block] = (norm, norm)
        return norms if measure else {}

    monkeypatch.setattr("lightning_td3.agent.td3.clip_blocks", measure_only)
    monitor = FeatureNormMonitor(every_n_updates=2)
    with pytest.warns(UserWarning, match="is above its max norm 1e-06"):
        fit(monitor, critic_cnn_max_norm=1e-6, actor_cnn_max_norm=1e-6)
    assert monitor.gradient_warnings >= 3 and monitor.gradient_criticals == 0  # 3 logging steps, 2 networks


def test_feature_thresholds_warn_and_halt():
    monitor = FeatureNormMonitor(every_n_updates=2, warning_threshold=0.1, critical_threshold=1e4, reference_dim=None)
    with pytest.warns(UserWarning, match="critic encoder feature L2 norm .* > 0.1"):
        fit(monitor)
    assert monitor.warnings == 3 and monitor.criticals == 0  # updates 0, 2, 4 of 6
    halting = FeatureNormMonitor(every_n_updates=2, warning_threshold=0.1, critical_threshold=0.2, reference_dim=None)
    with pytest.raises(TrainingHalted, match="exceeds the critical threshold 0.2 at update 1: training halted"):
        fit(halting)
    assert FeatureNormMonitor().state_dict() == {"warnings": 0, "criticals": 0, "gradient_warnings": 0,
                                                 "gradient_criticals": 0}  # fmt: skip


def test_q_and_td_error_limits_halt_at_the_first_logging_step():
    fit(FeatureNormMonitor(max_abs_q=1e6, max_td_error=1e6))  # healthy values: no halt
    with pytest.raises(TrainingHalted, match=r"train/td_error = \S+ exceeds its halt limit 1e-09: training halted"):
        fit(FeatureNormMonitor(max_td_error=1e-9))
    with pytest.raises(TrainingHalted, match=r"train/q1 = \S+ exceeds its halt limit 1e-09"):
        fit(FeatureNormMonitor(max_abs_q=1e-9))


def test_thresholds_scale_with_the_feature_size():
    """Given for 512-d features; the module here has 32-d ones: sqrt(32 / 512) = 1/4."""
    monitor = FeatureNormMonitor(every_n_updates=2, warning_threshold=2.0, critical_threshold=1e4)
    with pytest.warns(UserWarning, match=r"critic encoder feature L2 norm .* > 0.5$"):
        fit(monitor)  # fresh 32-d LayerNorm features have L2 ~ 4: above 2 / 4, below 2
    assert monitor.thresholds == (0.5, 2500.0) and monitor.warnings == 3
    with pytest.raises(ValueError, match="reference_dim must be >= 1 or None"):
        FeatureNormMonitor(reference_dim=0)
