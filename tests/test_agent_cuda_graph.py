"""The CUDA-graph update path (`cuda_graph=True`): its body agrees with the Lightning path on every machine;
capture and replay are checked where CUDA exists."""

import warnings

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from lightning_td3.agent import TD3
from lightning_td3.agent.graphed_update import GraphedUpdate
from lightning_td3.agent.synthetic import SyntheticBatches

torch.set_num_threads(1)
warnings.filterwarnings("ignore", ".*does not have many workers.*")
SHAPE = (4, 36, 36)
SMALL = dict(image_shape=SHAPE, vector_dim=3, feature_dim=32, hidden_dim=16)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def deterministic_cudnn():
    """Same convolution algorithms run to run: the comparisons below then see the graph, not cuDNN's choice."""
    flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags


class EagerGraphBody(TD3):
    """Routes training through GraphedUpdate's body without capture: the graph's maths, run on CPU."""

    def on_train_start(self) -> None:
        super().on_train_start()
        self.graphed_update = GraphedUpdate(self, capture=False)


class RecordsGraphs(TD3):
    def on_train_end(self) -> None:
        self.graph_kinds = set(self.graphed_update.graphs)
        super().on_train_end()


def fit(module: TD3, num_batches: int, accelerator: str = "cpu", **kwargs) -> L.Trainer:
    trainer = L.Trainer(max_epochs=1, logger=False, accelerator=accelerator, devices=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, **kwargs)  # fmt: skip
    data = SyntheticBatches(num_batches, 8, seed=3, image_shape=SHAPE, vector_dim=3)
    torch.manual_seed(1)
    trainer.fit(module, DataLoader(data, batch_size=None))
    return trainer


def build(cls: type[TD3] = TD3, **kwargs) -> TD3:
    torch.manual_seed(0)
    return cls(**SMALL, **kwargs)


def assert_same_parameters(a: TD3, b: TD3, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        torch.testing.assert_close(sb[name].cpu(), sa[name].cpu(), rtol=rtol, atol=atol,
                                   msg=lambda m, n=name: f"{n}: {m}")  # fmt: skip


@pytest.mark.parametrize("encoder", ["separate", "shared"])
def test_graph_body_agrees_with_the_lightning_path(encoder):
    """8 updates (4 actor updates, clipping on): same parameters, counters and Lightning step count."""
    kwargs = dict(encoder=encoder, critic_cnn_max_norm=1e-2, actor_cnn_max_norm=1e-2)
    reference, graphed = build(**kwargs), build(EagerGraphBody, **kwargs)
    ref_trainer, trainer = fit(reference, 8), fit(graphed, 8)
    assert (graphed.updates, graphed.actor_updates) == (8, 4)
    assert trainer.global_step == ref_trainer.global_step == 12  # 8 critic + 4 actor optimizer steps
    assert_same_parameters(reference, graphed)


def test_graph_body_logs_the_same_metrics_as_the_lightning_path():
    logged = {}
    for cls in (TD3, EagerGraphBody):
        module = build(cls)
        trainer = fit(module, 4, log_every_n_steps=2)
        logged[cls] = {k: float(v) for k, v in trainer.callback_metrics.items()}
    reference, graphed = logged[TD3], logged[EagerGraphBody]
    assert "train/actor_loss" in reference and "gradients/critic_cnn_norm_before_clip" in reference
    assert reference.keys() <= graphed.keys()
    for key, value in reference.items():
        assert graphed[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_cuda_graph_is_refused_clearly_where_it_cannot_run():
    with pytest.raises(ValueError, match="cuda_graph and compile cannot be combined"):
        build(cuda_graph=True, compile=True)
    with pytest.raises(ValueError, match="cuda_graph must be true or false"):
        build(cuda_graph="yes")
    with pytest.raises(ValueError, match="cuda_graph needs the module on a CUDA device; it is on cpu"):
        fit(build(cuda_graph=True), 2)


@needs_cuda
@pytest.mark.parametrize("encoder", ["separate", "shared"])
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_captured_update_agrees_with_eager_on_cuda(encoder, precision, deterministic_cudnn):
    """12 updates: 3 eager warm-up updates of each kind, then capture and replays of both graphs."""
    reference, graphed = build(encoder=encoder), build(RecordsGraphs, encoder=encoder, cuda_graph=True)
    fit(reference, 12, accelerator="cuda", precision=precision)
    trainer = fit(graphed, 12, accelerator="cuda", precision=precision)
    assert graphed.graph_kinds == {False, True} and graphed.graphed_update is None
    assert (graphed.updates, graphed.actor_updates, trainer.global_step) == (12, 6, 18)
    tol = dict(rtol=1e-4, atol=1e-5) if precision == "32-true" else dict(rtol=2e-2, atol=2e-3)
    assert_same_parameters(reference, graphed, **tol)


@needs_cuda
def test_feature_norm_monitor_sees_replayed_features():
    from lightning_td3.callbacks.feature_norm import FeatureNormMonitor

    monitor = FeatureNormMonitor(every_n_updates=2)
    module = build(cuda_graph=True)
    seen = []
    module.critic_encoder.register_forward_hook(lambda m, i, o: seen.append(float(o.norm(dim=1).mean())))
    fit(module, 12, accelerator="cuda", callbacks=[monitor])
    # the hook reads on the host, which a capture forbids: it is kept out of the capture and runs once per
    # update (3 + 3 eager warm-up updates, then every replay, the captures' own included)
    assert len(seen) == 12 and all(s > 0 for s in seen[-6:])


class ArmSyncErrors(L.Callback):
    """CUDA's sync debug mode set to "error" for the non-logging steps from update `start` on: any device ->
    host read, stream synchronize or blocking copy inside those loop iterations raises."""

    def __init__(self, start: int) -> None:
        self.start, self.armed_steps = start, 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if module.updates >= self.start and (module.updates + 1) % trainer.log_every_n_steps != 0:
            self.armed_steps += 1
            torch.cuda.set_sync_debug_mode("error")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        torch.cuda.set_sync_debug_mode("default")


@needs_cuda
@pytest.mark.parametrize("cuda_graph", [False, True])
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_no_device_sync_between_logging_steps_on_cuda(cuda_graph, precision):
    """Updates 10-19 (after the graphs' capture at 7 and 8), logging every 5th: 8 steps run armed."""
    batches = [{k: v.cuda() for k, v in batch.items()}
               for batch in SyntheticBatches(20, 8, seed=3, image_shape=SHAPE, vector_dim=3)]  # fmt: skip
    module, arm = build(cuda_graph=cuda_graph), ArmSyncErrors(start=10)
    trainer = L.Trainer(max_epochs=1, logger=False, log_every_n_steps=5, accelerator="cuda", devices=1,
                        precision=precision, callbacks=[arm], enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)  # fmt: skip
    try:
        trainer.fit(module, DataLoader(batches, batch_size=None))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert arm.armed_steps == 8 and module.updates == 20
