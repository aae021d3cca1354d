"""The whole TD3 update as one replayable CUDA graph: critic step, and on actor steps the actor step and
the target update, with every logged metric computed on the device inside the graph.

Why: at the reference networks' size an update on a modern GPU is a few hundred small kernels; launching
them from Python costs more than running them. A graph replays all of them with one launch.

How (PyTorch's whole-network capture recipe):
- the batch is copied into static input tensors; everything the update reads or writes (parameters,
  gradients, Adam state, the target noise's RNG offsets) lives at fixed addresses;
- the first `warmup` updates of each kind run eagerly on a side stream (they are real updates on real
  batches: nothing is thrown away), so that Adam's state and the autograd/cuDNN workspaces exist before
  capture; the next one is captured and then replayed, so it also trains on its batch;
- one graph per kind of update (critic only, critic + actor + targets), chosen on the host by the step
  counter, as the eager path does;
- Adam runs `capturable` (its step counter on the device); clipping (`TD3.clip_gradients`) reads nothing
  on the host.

The same body runs eagerly when `capture=False`: that is what the CPU tests compare against the Lightning
path, so the maths of the graph is checked on every machine; the capture itself needs CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from lightning_td3.agent.td3 import TD3


class GraphedUpdate:
    """Runs `TD3` updates through CUDA graphs (or eagerly through the same body when `capture=False`)."""

    def __init__(self, module: TD3, capture: bool = True, warmup: int = 3) -> None:
        if capture and not torch.cuda.is_available():
            raise ValueError("cuda_graph needs a CUDA device; this machine has none")
        self.module = module
        self.capture = capture
        self.warmup = warmup
        self.static_batch: dict[str, Tensor] = {}
        self.graphs: dict[bool, torch.cuda.CUDAGraph] = {}
        self.outputs: dict[bool, dict[str, Tensor]] = {}
        self.encoder_outputs: dict[bool, list[tuple[torch.nn.Module, tuple, Tensor]]] = {}
        self.eager_runs: dict[bool, int] = {False: 0, True: 0}

    # ---- the update, as straight-line tensor code --------------------------------------------------
    def body(self, batch: dict[str, Tensor], actor_step: bool) -> dict[str, Tensor]:
        """One update on `batch`; returns every metric as a device tensor (no host reads anywhere)."""
        m = self.module
        actor_opt, critic_opt = (opt.optimizer if hasattr(opt, "optimizer") else opt for opt in m.optimizers())

        critic_loss, q, target_q, critic_state = m.critic_loss(batch)
        critic_loss.backward()
        grad_norms = m.clip_gradients(critic_opt, measure=True)
        critic_opt.step()

        actor_loss = actor_state = None
        if actor_step:
            actor_loss, actor_state = m.actor_loss(batch, critic_state)
            actor_loss.backward()
            grad_norms.update(m.clip_gradients(actor_opt, measure=True))
            actor_opt.step()
            m.update_targets()
        metrics = m.update_metrics(critic_loss, q, target_q, critic_state, actor_loss, actor_state, batch)
        return {**metrics, **grad_norms}

    # ---- driving it -----------------------------------------------------------------------------------
    def step(self, batch: dict[str, Tensor], actor_step: bool) -> dict[str, Tensor]:
        """One update; returns the metrics (static tensors when graphed: read them before the next step)."""
        if not self.capture:
            self._zero_grads()
            return self.body(batch, actor_step)
        self._copy_in(batch)
        if actor_step in self.graphs:
            self.graphs[actor_step].replay()
        elif self.eager_runs[actor_step] < self.warmup:
            self.eager_runs[actor_step] += 1
            return self._side_stream(lambda: self.body(self.static_batch, actor_step))
        else:
            self._capture(actor_step)
            self.graphs[actor_step].replay()
        self._replay_forward_hooks(actor_step)
        return self.outputs[actor_step]

    def _copy_in(self, batch: dict[str, Tensor]) -> None:
        if not self.static_batch:
            self.static_batch = {k: v.clone() for k, v in batch.items()}
            return
        if batch.keys() != self.static_batch.keys() or any(
            v.shape != self.static_batch[k].shape for k, v in batch.items()
        ):
            shapes = {k: list(v.shape) for k, v in batch.items()}
            raise ValueError(f"cuda_graph needs every batch to have the captured shapes; got {shapes}")
        for k, v in batch.items():
            self.static_batch[k].copy_(v, non_blocking=True)

    def _side_stream(self, fn: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self._zero_grads()
            out = fn()
        torch.cuda.current_stream().wait_stream(stream)
        return out

    def _capture(self, actor_step: bool) -> None:
        graph = torch.cuda.CUDAGraph()
        records: list[tuple[torch.nn.Module, tuple, Tensor]] = []
        encoders = list(self.module.named_encoders().values())

        def record(module: torch.nn.Module, inputs: tuple, output: Tensor) -> None:
            records.append((module, inputs, output))

        # the encoders' own forward hooks (a feature monitor's, a user's) stay out of the capture: one that
        # reads a value on the host would break it; they run after every replay instead
        user_hooks = [(encoder, dict(encoder._forward_hooks)) for encoder in encoders]
        for encoder in encoders:
            encoder._forward_hooks.clear()
        handles = [encoder.register_forward_hook(record) for encoder in encoders]
        self._zero_grads()
        torch.cuda.synchronize()
        try:
            # thread_local: CUDA work of other threads (an async evaluation acting) may go on meanwhile
            with torch.cuda.graph(graph, capture_error_mode="thread_local"), _autocast_without_cache():
                self.outputs[actor_step] = self.body(self.static_batch, actor_step)
        finally:
            for handle in handles:
                handle.remove()
            for encoder, hooks in user_hooks:
                encoder._forward_hooks.update(hooks)
        self.graphs[actor_step] = graph
        self.encoder_outputs[actor_step] = records

    def _replay_forward_hooks(self, actor_step: bool) -> None:
        """Forward hooks (the feature-norm monitor's) do not run inside a replay (nor during capture): call
        them with the static features the replay just wrote. The next replay overwrites those tensors, so a
        hook that keeps one must read it before then."""
        for module, inputs, output in self.encoder_outputs.get(actor_step, []):
            for hook in module._forward_hooks.values():
                hook(module, inputs, output)

    def _zero_grads(self) -> None:
        for opt in self.module.optimizers():
            (opt.optimizer if hasattr(opt, "optimizer") else opt).zero_grad(set_to_none=True)


class _autocast_without_cache:
    """Capture needs autocast's weight cache off; re-enter the caller's CUDA autocast (if any) without it."""

    def __enter__(self) -> None:
        self.ctx = None
        if torch.is_autocast_enabled("cuda"):
            dtype = torch.get_autocast_dtype("cuda")
            self.ctx = torch.autocast("cuda", dtype=dtype, cache_enabled=False)
            self.ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self.ctx is not None:
            self.ctx.__exit__(*exc)
