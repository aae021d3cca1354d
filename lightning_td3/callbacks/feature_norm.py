"""FeatureNormMonitor: the alarm the reference system lacked when its CNN features reached 7e12.

Forward hooks on the module's online encoders (`named_encoders()`) capture the 512-d features of
one training step every `every_n_updates`; the statistics are logged as
`debug/{name}_cnn_feature_{l2_norm,mean,std,min,max}` and checked against thresholds. NaN/Inf or a
critical norm stops the run with a clear message (TrainingHalted); |Q| and TD error halts are optional.

Gradient alerts (the reference's "0 warnings, 0 critical" criterion), checked on the module's
logging steps from its `gradients/{network}_{block}_norm_{before,after}_clip`: a warning when a
block's clipped norm is above its max norm (clipping did not hold), critical when a norm is NaN/Inf.
Counts are logged as `alerts/{feature_norm,gradient}_{warning,critical}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn


class TrainingHalted(RuntimeError):
    """Training stopped because a health check failed."""


class FeatureNormMonitor(Callback):
    def __init__(
        self,
        every_n_updates: int = 100,
        warning_threshold: float = 100.0,
        critical_threshold: float = 10_000.0,
        halt_on_critical: bool = True,
        max_abs_q: float | None = None,
        max_td_error: float | None = None,
        reference_dim: int | None = 512,
    ) -> None:
        """Thresholds are for `reference_dim`-d features (the reference's 512-d, where a LayerNorm output
        has L2 ~ sqrt(512) ~ 22.6); for the module's `feature_dim` d they are scaled by
        sqrt(d / reference_dim). `reference_dim=None` applies them as given."""
        if every_n_updates < 1:
            raise ValueError(f"every_n_updates must be >= 1, got {every_n_updates}")
        if not 0 < warning_threshold < critical_threshold:
            raise ValueError(
                f"need 0 < warning_threshold < critical_threshold, got {warning_threshold}, {critical_threshold}"
            )
        self.every_n_updates = every_n_updates
        if reference_dim is not None and reference_dim < 1:
            raise ValueError(f"reference_dim must be >= 1 or None, got {reference_dim}")
        self.warning_threshold = warning_threshold
        self.critical_threshold = critical_threshold
        self.reference_dim = reference_dim
        self.thresholds = (warning_threshold, critical_threshold)  # in effect for this fit (scaled)
        self.halt_on_critical = halt_on_critical
        self.max_abs_q = max_abs_q
        self.max_td_error = max_td_error
        self.warnings = 0
        self.criticals = 0
        self.gradient_warnings = 0
        self.gradient_criticals = 0
        self._armed = False
        self._captured: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []

    # -- hooks on the encoders --------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        feature_dim = getattr(pl_module, "hparams", {}).get("feature_dim")
        scale = math.sqrt(feature_dim / self.reference_dim) if feature_dim and self.reference_dim else 1.0
        self.thresholds = (self.warning_threshold * scale, self.critical_threshold * scale)
        for name, encoder in pl_module.named_encoders().items():
            self._handles.append(encoder.register_forward_hook(self._capture(name)))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.on_fit_end(trainer, pl_module)

    def _capture(self, name: str) -> Any:
        def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if self._armed and name not in self._captured:
                self._captured[name] = output.detach()

        return hook

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._armed = getattr(pl_module, "updates", trainer.global_step) % self.every_n_updates == 0
        self._captured.clear()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._armed:
            self._armed = False
            self._check_features(trainer, pl_module)
        if getattr(pl_module, "_log_now", True):  # the module just logged: fresh gradient norms, Q, TD error
            self._check_gradients(trainer, pl_module)
            self._check_q_and_td(trainer)

    # -- checks -----------------------------------------------------------------------------------
    def _check_features(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logged: dict[str, float] = {}
        for name, features in self._captured.items():
            f = features.float()
            norm = f.norm(dim=-1)
            finite = bool(torch.isfinite(f).all())  # one host sync every `every_n_updates`
            if not finite:
                raise TrainingHalted(
                    f"{name} encoder produced NaN/Inf features at update {pl_module.updates}: training halted"
                )
            l2 = float(norm.mean())
            prefix = f"debug/{name}_cnn_feature"
            logged.update(
                {
                    f"{prefix}_l2_norm": l2,
                    f"{prefix}_mean": float(f.mean()),
                    f"{prefix}_std": float(f.std()),
                    f"{prefix}_min": float(f.min()),
                    f"{prefix}_max": float(f.max()),
                }
            )
            warning_threshold, critical_threshold = self.thresholds
            if l2 > critical_threshold:
                self.criticals += 1
                if self.halt_on_critical:
                    raise TrainingHalted(
                        f"{name} encoder feature L2 norm {l2:.3g} exceeds the critical threshold "
                        f"{critical_threshold:.3g} at update {pl_module.updates}: training halted"
                    )
            elif l2 > warning_threshold:
                self.warnings += 1
                rank_zero_warn(f"{name} encoder feature L2 norm {l2:.3g} > {warning_threshold:.3g}")
        if getattr(pl_module, "logs_feature_stats", False):
            logged = {}  # the module logs debug/* on its own cadence; one source per tag
        logged.update(self._alert_counts())
        if trainer.logger is not None:
            trainer.logger.log_metrics(logged, step=int(getattr(pl_module, "updates", trainer.global_step)))

    def _alert_counts(self) -> dict[str, float]:
        return {"alerts/feature_norm_warning": float(self.warnings),
                "alerts/feature_norm_critical": float(self.criticals),
                "alerts/gradient_warning": float(self.gradient_warnings),
                "alerts/gradient_critical": float(self.gradient_criticals)}  # fmt: skip

    def _check_gradients(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        warnings, criticals = gradient_alerts(trainer.callback_metrics, getattr(pl_module, "max_norms", {}))
        for message in criticals:
            self.gradient_criticals += 1
            if self.halt_on_critical:
                raise TrainingHalted(f"{message} at update {pl_module.updates}: training halted")
        for message in warnings:
            self.gradient_warnings += 1
            rank_zero_warn(message)
        if (warnings or criticals) and trainer.logger is not None:
            step = int(getattr(pl_module, "updates", trainer.global_step))
            trainer.logger.log_metrics(self._alert_counts(), step=step)

    def _check_q_and_td(self, trainer: L.Trainer) -> None:
        if self.max_abs_q is None and self.max_td_error is None:
            return
        metrics = trainer.callback_metrics  # refreshed on logging steps only (reading a device value syncs)
        for key, limit in (("train/q1", self.max_abs_q), ("train/td_error", self.max_td_error)):
            value = metrics.get(key)
            if limit is None or value is None:
                continue
            v = float(value)
            if not math.isfinite(v) or abs(v) > limit:
                raise TrainingHalted(f"{key} = {v:.3g} exceeds its halt limit {limit:g}: training halted")

    def state_dict(self) -> dict[str, Any]:
        return {"warnings": self.warnings, "criticals": self.criticals,
                "gradient_warnings": self.gradient_warnings, "gradient_criticals": self.gradient_criticals}  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.warnings = state_dict["warnings"]
        self.criticals = state_dict["criticals"]
        self.gradient_warnings = state_dict.get("gradient_warnings", 0)  # checkpoints from before these counts
        self.gradient_criticals = state_dict.get("gradient_criticals", 0)


CLIP_TOLERANCE = 1.01  # clip_grad_norm_ scales by max / (norm + 1e-6); rounding may leave a hair above max


def gradient_alerts(
    metrics: Mapping[str, Any], max_norms: Mapping[str, Mapping[str, float | None]]
) -> tuple[list[str], list[str]]:
    """(warnings, criticals) messages for logged `gradients/{network}_{block}_norm_{before,after}_clip`."""
    warnings, criticals = [], []
    for key, value in metrics.items():
        if not (key.startswith("gradients/") and key.endswith("_clip")):
            continue
        v = float(value)
        name = key.removeprefix("gradients/")
        if not math.isfinite(v):
            criticals.append(f"gradient {name} is {v}")
            continue
        if name.endswith("_norm_after_clip"):
            network, _, block = name.removesuffix("_norm_after_clip").partition("_")
            limit = max_norms.get(network, {}).get(block)
            if limit is not None and v > limit * CLIP_TOLERANCE:
                warnings.append(f"gradient {name} {v:.3g} is above its max norm {limit:g}")
    return warnings, criticals
