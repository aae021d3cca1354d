"""Learner fast paths agree with the plain path: Adam implementations, channels-last encoders,
torch.compile of the networks; and no host sync in a training step except on logging steps.

CUDA-only paths (fused Adam on the GPU, bf16 autocast on the GPU) cannot run on these CPU machines;
the CPU versions of the same code paths are what is tested here.
"""

import copy
import math
import warnings

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import DataLoader

from lightning_td3.agent import TD3, PixelEncoder
from lightning_td3.agent.optim import apply_implementation, make_optimizer, resolve_implementation
from lightning_td3.agent.synthetic import SyntheticBatches, synthetic_batch

torch.set_num_threads(1)
warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
SHAPE = (4, 36, 36)
SMALL = dict(image_shape=SHAPE, vector_dim=3, feature_dim=32, hidden_dim=16)


def train(module: TD3, num_batches: int, log_every: int = 0, ckpt_path: str | None = None,
          max_epochs: int = 1, **trainer_kwargs) -> L.Trainer:  # fmt: skip
    """Fit on fixed synthetic batches of 8 with a fixed torch seed (the target noise is drawn from it)."""
    trainer = L.Trainer(
        max_epochs=max_epochs, logger=False, log_every_n_steps=log_every, accelerator="cpu",
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, **trainer_kwargs,
    )  # fmt: skip
    data = SyntheticBatches(num_batches, 8, seed=3, image_shape=SHAPE, vector_dim=3)
    torch.manual_seed(1)
    trainer.fit(module, DataLoader(data, batch_size=None), ckpt_path=ckpt_path)
    return trainer


def make(**kwargs) -> TD3:
    torch.manual_seed(0)
    return TD3(**SMALL, **kwargs)


def assert_same_parameters(a: TD3, b: TD3, rtol: float, atol: float) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        torch.testing.assert_close(sa[name], sb[name], rtol=rtol, atol=atol, msg=lambda m, n=name: f"{n}: {m}")


def optimizer_flags(module: TD3) -> set[tuple[bool | None, bool | None]]:
    return {(g["foreach"], g["fused"]) for opt in module.optimizers() for g in opt.optimizer.param_groups}


# ---- Adam implementations -------------------------------------------------------------------------
def test_auto_resolves_to_fused_on_cuda_and_cpu_and_foreach_elsewhere():
    assert resolve_implementation("auto", "cuda") == "fused"
    assert resolve_implementation("auto", torch.device("cpu")) == "fused"
    assert resolve_implementation("auto", "mps") == "foreach"
    assert resolve_implementation("none", "cuda") == "none"
    with pytest.raises(ValueError, match="fused_optimizer must be one of"):
        resolve_implementation("apex", "cpu")
    with pytest.raises(ValueError, match="resolve 'auto'"):
        make_optimizer("adam", [{"params": [torch.nn.Parameter(torch.zeros(1))]}], "auto")
    with pytest.raises(ValueError, match="fused_optimizer must be one of"):
        make(fused_optimizer="fast")


@pytest.mark.parametrize("implementation", ["auto", "foreach", "fused"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adam_implementations_agree_with_the_for_loop(implementation, optimizer):
    """8 updates (4 actor updates, clipping on, weight decay on) end at the same parameters."""
    kwargs = dict(optimizer=optimizer, weight_decay=0.01)
    reference, fast = make(fused_optimizer="none", **kwargs), make(fused_optimizer=implementation, **kwargs)
    train(reference, 8)
    train(fast, 8)
    expected = {"auto": (None, True), "foreach": (True, None), "fused": (None, True)}[implementation]
    assert optimizer_flags(fast) == {expected} and optimizer_flags(reference) == {(None, None)}
    assert (fast.updates, fast.actor_updates) == (8, 4)
    assert_same_parameters(reference, fast, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_fused_adam_under_autocast_agrees_and_clips_unscaled_gradients(precision):
    """Lightning leaves a fused optimizer's fp16 gradients scaled; TD3 unscales them before its clipping,
    so fused and for-loop Adam take the same (clipped, unscaled) steps under a GradScaler too."""
    results = []
    for implementation in ("none", "fused"):
        module = make(fused_optimizer=implementation, critic_cnn_max_norm=1e-3, actor_cnn_max_norm=1e-3)
        if precision == "16-mixed":  # on CPU Lightning maps 16-mixed to bf16 unless given the plugin
            amp = {"plugins": [MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu"))]}
        else:
            amp = {"precision": precision}
        train(module, 6, **amp)
        results.append(module)
    assert_same_parameters(*results, rtol=1e-4, atol=1e-5)


def test_resume_uses_the_configured_implementation_not_the_saved_one(tmp_path):
    saved = make(fused_optimizer="none", encoder="shared")
    trainer = train(saved, 3)
    path = tmp_path / "td3.ckpt"
    trainer.save_checkpoint(path)
    resumed = make(fused_optimizer="fused", encoder="shared")
    train(resumed, 3, ckpt_path=str(path), max_epochs=2)
    assert resumed.updates == 6 and optimizer_flags(resumed) == {(None, True)}
    # and the step counters live where a fused step wants them (fine on CPU; on CUDA this is the device)
    for opt in resumed.optimizers():
        for p, state in opt.optimizer.state.items():
            assert state["step"].device == p.device and state["step"].dtype == torch.float32


def test_apply_implementation_moves_step_counters_to_match():
    p = torch.nn.Parameter(torch.randn(4))
    opt = make_optimizer("adam", [{"params": [p]}], "fused")
    p.grad = torch.randn(4)
    opt.step()
    apply_implementation(opt, "foreach")
    assert (opt.param_groups[0]["foreach"], opt.param_groups[0]["fused"]) == (True, None)
    assert opt.state[p]["step"].device.type == "cpu" and float(opt.state[p]["step"]) == 1.0
    opt.step()  # the foreach step accepts the moved state
    assert float(opt.state[p]["step"]) == 2.0


# ---- channels-last encoders -------------------------------------------------------------------------
@pytest.mark.parametrize("layer_norm", [True, False])
def test_channels_last_encoder_matches_nchw_forward_and_gradients(layer_norm):
    torch.manual_seed(0)
    nchw = PixelEncoder(SHAPE, 32, layer_norm)
    nhwc = PixelEncoder(SHAPE, 32, layer_norm, channels_last=True)
    nhwc.load_state_dict(nchw.state_dict())  # same parameters, same state_dict keys
    frames = torch.randint(0, 256, (5, *SHAPE), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out_a, out_b = nchw(frames), nhwc(frames)
    torch.testing.assert_close(out_b, out_a, rtol=1e-5, atol=1e-5)
    (out_a * torch.arange(32)).sum().backward()
    (out_b * torch.arange(32)).sum().backward()
    for (name, a), b in zip(nchw.named_parameters(), nhwc.parameters(), strict=True):
        # summation order differs between the layouts: compare at the scale of each gradient
        error = ((b.grad - a.grad).norm() / a.grad.norm()).item()
        assert error < 1e-5, (name, error)
    assert frames.dtype == torch.uint8 and frames.is_contiguous()  # the input is not changed


def test_encoder_never_changes_a_float_input():
    frames = torch.full((2, *SHAPE), 255.0)
    for channels_last in (False, True):
        PixelEncoder(SHAPE, 8, channels_last=channels_last)(frames)
        assert torch.equal(frames, torch.full((2, *SHAPE), 255.0))


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_channels_last_training_agrees_with_nchw(encoder):
    reference, fast = make(encoder=encoder), make(encoder=encoder, channels_last=True)
    train(reference, 6)
    train(fast, 6)
    assert_same_parameters(reference, fast, rtol=1e-4, atol=1e-5)


# ---- torch.compile --------------------------------------------------------------------------------------
def test_compile_wiring_each_network_compiles_its_own_math_and_copies_start_eager(monkeypatch):
    """With a stand-in for torch.compile: every network (targets included) compiles its own bound method,
    hooks stay outside the compiled code, deep copies and pickles carry no compiled function."""
    compiled: list[object] = []

    def fake_compile(fn):
        compiled.append(fn.__self__)
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    module = make(compile=True)
    assert not compiled  # lazily, on first use
    seen = []
    module.critic_encoder.register_forward_hook(lambda m, i, o: seen.append(o))
    train(module, 2)
    networks = [module.critic_encoder, module.actor_encoder, module.actor, module.critic,
                module.critic_encoder_target, module.actor_encoder_target, module.actor_target,
                module.critic_target]  # fmt: skip
    assert {id(n) for n in networks} == {id(c) for c in compiled}
    assert len(seen) == 2  # the hook ran eagerly, once per critic loss
    clone = copy.deepcopy(module.critic_encoder)
    assert clone.compiled and "_compiled_fns" not in clone.__dict__
    assert "_compiled_fns" in module.critic_encoder.__dict__
    assert not make().critic_encoder.compiled


@pytest.mark.slow
def test_compiled_training_agrees_with_eager():
    """Real torch.compile (inductor) of every network over 4 updates, channels-last encoders included.
    Tens of seconds on a CPU, hence slow."""
    eager, compiled = make(channels_last=True), make(channels_last=True, compile=True)
    train(eager, 4)
    train(compiled, 4)
    assert compiled.actor_updates == 2
    assert_same_parameters(eager, compiled, rtol=1e-4, atol=1e-5)


# ---- no host sync outside logging steps ----------------------------------------------------------------
SYNC_METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


class SyncProbe(TD3):
    """Runs non-logging training steps with every tensor -> host read raising, logging steps unpatched.

    Allowed, and counted apart: `.item()` on the optimizers' step counters by the for-loop and foreach
    Adam. Those counters are host tensors even when the parameters are on CUDA (non-capturable Adam
    keeps them on the CPU), so reading them is no device sync; the fused step reads none.
    """

    def training_step(self, batch, batch_idx):
        log_step = self.trainer.log_every_n_steps > 0 and (self.updates + 1) % self.trainer.log_every_n_steps == 0
        if log_step:
            self.logging_steps += 1
            return super().training_step(batch, batch_idx)
        optimizers = [opt.optimizer for opt in self.optimizers()]
        originals = {name: getattr(torch.Tensor, name) for name in SYNC_METHODS}

        def guarded(name):
            def method(tensor, *args, **kwargs):
                counters = (s.get("step") for opt in optimizers for s in opt.state.values())  # made on first step
                if name == "item" and any(tensor is counter for counter in counters):
                    self.counter_reads += 1
                    return originals[name](tensor, *args, **kwargs)
                raise AssertionError(f"host sync: Tensor.{name} on {list(tensor.shape)} in a non-logging step")

            return method

        try:
            for name in SYNC_METHODS:
                setattr(torch.Tensor, name, guarded(name))
            result = super().training_step(batch, batch_idx)
        finally:
            for name, original in originals.items():
                setattr(torch.Tensor, name, original)
        self.quiet_steps += 1
        return result


@pytest.mark.parametrize("encoder, implementation, channels_last", [
    ("separate", "fused", False), ("separate", "foreach", True), ("shared", "none", False)])  # fmt: skip
def test_no_host_sync_in_non_logging_training_steps(encoder, implementation, channels_last):
    torch.manual_seed(0)
    module = SyncProbe(**SMALL, encoder=encoder, fused_optimizer=implementation, channels_last=channels_last)
    module.logging_steps = module.quiet_steps = module.counter_reads = 0
    train(module, 6, log_every=3)
    assert (module.quiet_steps, module.logging_steps, module.updates) == (4, 2, 6)
    if implementation == "fused":
        assert module.counter_reads == 0
    else:
        assert module.counter_reads > 0  # the allowance is what let these steps through, not a dead patch


def test_fp16_grad_scaler_steps_without_host_sync_only_with_fused_adam():
    """GradScaler.step reads found_inf on the host for a for-loop/foreach optimizer; a fused one takes it
    as a tensor (TD3 unscales before clipping, so the scaler passes only found_inf)."""
    reads = {}
    for implementation in ("fused", "none"):
        torch.manual_seed(0)
        module = SyncProbe(**SMALL, fused_optimizer=implementation)
        module.logging_steps = module.quiet_steps = module.counter_reads = 0
        fp16 = MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu"))
        try:
            train(module, 6, log_every=3, plugins=[fp16])
            reads[implementation] = None
        except AssertionError as error:
            reads[implementation] = str(error)
    assert reads["fused"] is None
    assert "host sync: Tensor.item" in reads["none"]


class CountingLogger(Logger):
    name, version = "counting", 0

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.steps.append(step)

    def log_hyperparams(self, *args, **kwargs) -> None:
        pass


class ArmBetweenLogs(L.Callback):
    """Patches every tensor -> host read to raise for whole loop iterations (batch fetch, transfer, hooks,
    training step, optimizer steps) that are not logging steps; the default fused Adam reads no counter."""

    def __init__(self) -> None:
        self.originals = {name: getattr(torch.Tensor, name) for name in SYNC_METHODS}
        self.armed_steps = 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if (module.updates + 1) % trainer.log_every_n_steps != 0:
            self.armed_steps += 1
            for name in SYNC_METHODS:
                setattr(torch.Tensor, name, self._raise(name))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.disarm()

    def disarm(self) -> None:
        for name, original in self.originals.items():
            setattr(torch.Tensor, name, original)

    @staticmethod
    def _raise(name):
        def method(tensor, *args, **kwargs):
            raise AssertionError(f"host sync: Tensor.{name} on {list(tensor.shape)} between logging steps")

        return method


def test_no_host_sync_in_the_lightning_loop_between_logging_steps():
    torch.manual_seed(0)
    module, arm, logger = TD3(**SMALL), ArmBetweenLogs(), CountingLogger()
    trainer = L.Trainer(max_epochs=1, logger=logger, log_every_n_steps=3, accelerator="cpu", callbacks=[arm],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    data = DataLoader(SyntheticBatches(7, 8, image_shape=SHAPE, vector_dim=3), batch_size=None)
    try:
        trainer.fit(module, data)
    finally:
        arm.disarm()
    assert arm.armed_steps == 5 and logger.steps == [3, 6]


def test_the_sync_probe_catches_a_host_read():
    torch.manual_seed(0)

    class Leaky(SyncProbe):
        def critic_loss(self, batch):
            loss, *rest = super().critic_loss(batch)
            assert math.isfinite(loss.item())
            return (loss, *rest)

    module = Leaky(**SMALL)
    module.logging_steps = module.quiet_steps = module.counter_reads = 0
    with pytest.raises(AssertionError, match=r"host sync: Tensor.item on \[\]"):
        train(module, 2, log_every=3)


def test_synthetic_batch_has_the_replay_format():  # the fixture the tests above rely on
    b = synthetic_batch(4, SHAPE, vector_dim=3)
    assert b["obs_image"].dtype == torch.uint8 and b["discount"].shape == (4,)
