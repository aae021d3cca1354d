"""TD3 from pixels as a LightningModule (manual optimization: two optimizers, delayed actor).

One batch = one critic update; every `policy_delay`-th batch also updates the actor and moves
every target network (heads and encoders) by polyak `tau`. Batches follow the replay interface:
obs_image uint8 [B,S,H,W], obs_vector [B,D], action [B,A], reward [B], next_obs_image,
next_obs_vector, terminated [B] (1 = no bootstrap), discount [B] (gamma**k for n-step returns).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from lightning_td3.agent.augment import random_shift
from lightning_td3.agent.compiling import CompilableModule
from lightning_td3.agent.encoder import LayerNormPlacement, PixelEncoder, validate_layer_norm
from lightning_td3.agent.episode_metrics import DrivingEpisodeMetrics
from lightning_td3.agent.networks import Actor, Critic
from lightning_td3.agent.optim import (
    IMPLEMENTATIONS,
    Implementation,
    apply_implementation,
    clip_blocks,
    make_optimizer,
    parameter_groups,
    resolve_implementation,
)


def target_copy(module: nn.Module) -> nn.Module:
    """A frozen copy that only ever moves by polyak averaging."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Build the graph with no gradient path into `module`'s parameters (the actor loss must not train
    the critic); requires_grad is restored on exit."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def feature_stats(prefix: str, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """`l2_norm` is the batch mean of the per-sample L2 norm; the rest are over all elements."""
    features = features.detach().float()
    return {
        f"{prefix}_l2_norm": features.norm(dim=1).mean(),
        f"{prefix}_mean": features.mean(),
        f"{prefix}_std": features.std(),
        f"{prefix}_min": features.min(),
        f"{prefix}_max": features.max(),
    }


class TD3(L.LightningModule):
    """TD3 with LayerNorm pixel encoders; `num_critics=1, policy_delay=1, policy_noise=0` is DDPG.

    encoder="separate": actor and critic each own an encoder (and a target copy of it); each head
    reads its own encoder. encoder="shared": one encoder trained by the critic loss only; the actor
    reads its features detached. Shared-mode encoder diagnostics are logged under `critic` names
    only (there is one encoder, and the actor optimizer then has no `cnn` block).
    layer_norm: where the encoders' LayerNorms sit: true / "all" after every conv and the FC, "fc"
    after the FC only (DrQ-v2), false / "none" nowhere (see agent/encoder.py). layer_norm_gain: the
    initial gain of the feature LayerNorm (< 1 starts the heads on the kinematic vector).
    action_smoothness: weight of a temporal smoothness term in the actor loss (CAPS, Mysore et al.
    2021): lambda * mean|Q1| * mean ||mu(s) - mu(s')||^2, s' the batch's next observation (at most
    n_step steps later). A deterministic tanh actor trained on -Q alone drifts to bang-bang control;
    this prices the change. Scaled by the detached mean|Q1| (as TD3+BC scales its BC term) so lambda
    does not depend on the reward's scale; 0 (default) is plain TD3.
    image_shift: DrQ's random-shift augmentation (agent/augment.py): every training batch's observation
    and next observation images are moved by up to this many pixels each way, per sample (edges
    repeated). 0 (default) is off; DrQ-v2 uses 4 on 84x84 frames.

    Fast paths (each changes speed only; results agree with the plain path to float rounding, tested
    in tests/test_agent_fastpaths.py; benchmarks/learner.py times them):
      fused_optimizer: Adam/AdamW implementation. "auto" (default) = "fused" on CUDA and CPU (on CPU
        ~2.5x faster than foreach per step), "foreach" elsewhere; "foreach" / "fused" force one; "none"
        leaves it to torch (for-loop on CPU, foreach on CUDA). Re-applied when training starts, since a
        checkpoint's optimizer state carries the flags it was saved with.
      compile: torch.compile the networks' tensor math (encoders, actor, critic heads, and their
        targets); forward hooks, losses, clipping, Lightning's manual_backward and optimizer steps stay
        eager. The first updates pay the compile time (tens of seconds on CPU).
      channels_last: run the encoders' convs on NHWC activations. On CPU this makes the conv weight
        gradients several times faster (the whole update ~1.3x at batch 256); it is off by default
        because on CUDA (H200, fp32, eager) it was 0.8-0.9x as fast (benchmarks/README.md).
    bf16 autocast is Lightning's (`trainer.precision: bf16-mixed`). No host sync happens in a
    training step except on logging steps (tested; under fp16's GradScaler only with fused Adam, since
    its step reads `found_inf` on the host for the other implementations).
      cuda_graph: capture the whole update (critic step; actor step and target update on actor
        steps; every logged metric) as CUDA graphs and replay them (`agent/graphed_update.py`). CUDA
        only, fp32 or bf16-mixed, one process, batches of one shape; not with `compile`.
    """

    logs_feature_stats = True  # debug/*_cnn_feature_* come from here; the feature-norm monitor only checks

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (4, 84, 84),
        vector_dim: int = 0,
        action_dim: int = 2,
        feature_dim: int = 512,
        hidden_dim: int = 256,
        layer_norm: bool | LayerNormPlacement = True,
        layer_norm_gain: float = 1.0,
        encoder: Literal["separate", "shared"] = "separate",
        num_critics: int = 2,
        gamma: float = 0.99,
        tau: float = 0.005,
        policy_noise: float = 0.2,
        noise_clip: float = 0.5,
        policy_delay: int = 2,
        action_smoothness: float = 0.0,
        image_shift: int = 0,
        optimizer: Literal["adam", "adamw"] = "adam",
        actor_cnn_lr: float = 1e-4,
        actor_mlp_lr: float = 3e-4,
        critic_cnn_lr: float = 1e-4,
        critic_mlp_lr: float = 3e-4,
        weight_decay: float = 0.0,
        actor_cnn_max_norm: float | None = 1.0,
        actor_mlp_max_norm: float | None = None,
        critic_cnn_max_norm: float | None = 10.0,
        critic_mlp_max_norm: float | None = None,
        fused_optimizer: Implementation = "auto",
        compile: bool = False,
        channels_last: bool = False,
        cuda_graph: bool = False,
    ) -> None:
        super().__init__()
        checks = [
            (len(image_shape) == 3 and min(image_shape) >= 1, f"image_shape must be (S,H,W): {image_shape}"),
            (vector_dim >= 0, f"vector_dim must be >= 0, got {vector_dim}"),
            (action_dim >= 1, f"action_dim must be >= 1, got {action_dim}"),
            (feature_dim >= 1 and hidden_dim >= 1, "feature_dim and hidden_dim must be >= 1"),
            (encoder in ("separate", "shared"), f"encoder must be 'separate' or 'shared', got {encoder!r}"),
            (num_critics in (1, 2), f"num_critics must be 1 or 2, got {num_critics}"),
            (0.0 <= gamma <= 1.0, f"gamma must be in [0, 1], got {gamma}"),
            (0.0 < tau <= 1.0, f"tau must be in (0, 1], got {tau}"),
            (policy_noise >= 0 and noise_clip >= 0, "policy_noise and noise_clip must be >= 0"),
            (policy_delay >= 1, f"policy_delay must be >= 1, got {policy_delay}"),
            (action_smoothness >= 0, f"action_smoothness must be >= 0, got {action_smoothness}"),
            (isinstance(image_shift, int) and 0 <= image_shift < min(image_shape[1:], default=1),
             f"image_shift must be an int in [0, image size), got {image_shift!r}"),
            (optimizer in ("adam", "adamw"), f"optimizer must be 'adam' or 'adamw', got {optimizer!r}"),
            (min(actor_cnn_lr, actor_mlp_lr, critic_cnn_lr, critic_mlp_lr) > 0, "learning rates must be > 0"),
            (weight_decay >= 0, f"weight_decay must be >= 0, got {weight_decay}"),
            (fused_optimizer in IMPLEMENTATIONS,
             f"fused_optimizer must be one of {IMPLEMENTATIONS}, got {fused_optimizer!r}"),
            (isinstance(compile, bool), f"compile must be true or false, got {compile!r}"),
            (isinstance(channels_last, bool), f"channels_last must be true or false, got {channels_last!r}"),
            (isinstance(cuda_graph, bool), f"cuda_graph must be true or false, got {cuda_graph!r}"),
            (not (cuda_graph and compile), "cuda_graph and compile cannot be combined: choose one"),
        ]
        max_norms = {"actor": {"cnn": actor_cnn_max_norm, "mlp": actor_mlp_max_norm},
                     "critic": {"cnn": critic_cnn_max_norm, "mlp": critic_mlp_max_norm}}  # fmt: skip
        checks += [(v is None or v > 0, f"{net}_{block}_max_norm must be > 0 or None, got {v}")
                   for net, blocks in max_norms.items() for block, v in blocks.items()]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        validate_layer_norm(layer_norm, layer_norm_gain)  # raises before anything is built
        self.save_hyperparameters()
        self.automatic_optimization = False

        state_dim = feature_dim + vector_dim
        separate = encoder == "separate"
        encoder_args = (tuple(image_shape), feature_dim, layer_norm, channels_last, layer_norm_gain)
        self.critic_encoder = PixelEncoder(*encoder_args)
        self.actor_encoder = PixelEncoder(*encoder_args) if separate else None
        self.actor = Actor(state_dim, action_dim, hidden_dim)
        self.critic = Critic(state_dim, action_dim, hidden_dim, num_critics)
        self.critic_encoder_target = target_copy(self.critic_encoder)
        self.actor_encoder_target = target_copy(self.actor_encoder) if separate else None
        self.actor_target = target_copy(self.actor)
        self.critic_target = target_copy(self.critic)
        if compile:  # after the target copies: each network compiles its own code (copies start uncompiled)
            for module in self.modules():
                if isinstance(module, CompilableModule):
                    module.set_compiled(True)

        self.max_norms = max_norms  # {network: {block: max gradient norm or None}}
        self.updates = 0  # batches trained on (= critic updates)
        self.actor_updates = 0  # actor (and target) updates
        self.val_metrics = DrivingEpisodeMetrics()
        self.test_metrics = DrivingEpisodeMetrics()
        self._log_now = False
        self._grad_norms: dict[str, torch.Tensor] = {}
        self.graphed_update: Any = None  # a GraphedUpdate while training with cuda_graph

    # ---- networks ---------------------------------------------------------------------------
    @property
    def shared(self) -> bool:
        return self.actor_encoder is None

    def named_encoders(self) -> dict[str, PixelEncoder]:
        """Online encoders by owner ({"critic"} only in shared mode): what a feature monitor hooks."""
        if self.shared:
            return {"critic": self.critic_encoder}
        return {"actor": self.actor_encoder, "critic": self.critic_encoder}

    @staticmethod
    def encode_state(encoder: nn.Module, image: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        return torch.cat([encoder(image), vector.to(torch.float32)], dim=-1)

    # ---- TD3 ----------------------------------------------------------------------------------
    @torch.no_grad()
    def td_target(self, batch: dict[str, torch.Tensor], noise: torch.Tensor | None = None) -> torch.Tensor:
        """reward + discount * (1 - terminated) * min_i Q'_i(s', clip(mu'(s') + clip(noise), -1, 1)).

        `noise` (unclipped, [B, A]) defaults to N(0, policy_noise); tests pass it to pin the value.
        """
        hp = self.hparams
        next_obs = batch["next_obs_image"], batch["next_obs_vector"]
        next_critic_state = self.encode_state(self.critic_encoder_target, *next_obs)
        next_actor_state = (
            next_critic_state if self.shared else self.encode_state(self.actor_encoder_target, *next_obs)
        )
        next_action = self.actor_target(next_actor_state)
        if noise is None and hp.policy_noise > 0:
            noise = torch.randn_like(next_action) * hp.policy_noise
        if noise is not None:
            next_action = (next_action + noise.clamp(-hp.noise_clip, hp.noise_clip)).clamp(-1.0, 1.0)
        next_q = self.critic_target(next_critic_state, next_action).min(dim=0).values.float()
        discount = batch["discount"] if "discount" in batch else torch.full_like(batch["reward"], hp.gamma)
        return batch["reward"] + discount * (1.0 - batch["terminated"]) * next_q

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Sum over heads of the MSE to one target. Returns (loss, q [C,B], target [B], critic state)."""
        critic_state = self.encode_state(self.critic_encoder, batch["obs_image"], batch["obs_vector"])
        q = self.critic(critic_state, batch["action"]).float()
        target = self.td_target(batch)
        return (q - target).pow(2).mean(dim=1).sum(), q, target, critic_state

    def actor_loss(self, batch: dict[str, Tensor], critic_state: Tensor) -> tuple[Tensor, Tensor]:
        """-Q1(s, mu(s)) (+ the action_smoothness term), critic frozen, its state detached. Returns (loss, actor state).

        The critic state is the one computed for this batch's critic loss (as DrQ-v2 does): the
        critic encoder is never trained by the actor loss, so it need not run again.
        """
        critic_state = critic_state.detach()
        obs = batch["obs_image"], batch["obs_vector"]
        actor_state = critic_state if self.shared else self.encode_state(self.actor_encoder, *obs)
        action = self.actor(actor_state)
        with frozen(self.critic):
            q1 = self.critic.q1(critic_state, action).float()
        loss = -q1.mean()
        if self.hparams.action_smoothness > 0:
            scale = self.hparams.action_smoothness * q1.abs().mean().detach()
            loss = loss + scale * self.action_change(batch, action).mean()
        return loss, actor_state

    def action_change(self, batch: dict[str, Tensor], action: Tensor) -> Tensor:
        """||mu(s) - mu(s')||^2 per sample [B]; gradients reach the actor head through both actions.

        The next state is encoded without gradient: in shared mode the encoder is the critic's (never
        trained by the actor), in separate mode this keeps the smoothness term off the actor's CNN.
        """
        encoder = self.critic_encoder if self.shared else self.actor_encoder
        with torch.no_grad():
            next_state = self.encode_state(encoder, batch["next_obs_image"], batch["next_obs_vector"])
        return (action.float() - self.actor(next_state).float()).pow(2).sum(dim=-1)

    @torch.no_grad()
    def update_targets(self) -> None:
        """target <- (1 - tau) * target + tau * online, for every network that has a target."""
        pairs = [(self.actor, self.actor_target), (self.critic, self.critic_target),
                 (self.critic_encoder, self.critic_encoder_target)]  # fmt: skip
        if not self.shared:
            pairs.append((self.actor_encoder, self.actor_encoder_target))
        for online, target in pairs:
            torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), self.hparams.tau)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        hp = self.hparams
        if batch["obs_vector"].shape[-1] != hp.vector_dim or batch["action"].shape[-1] != hp.action_dim:
            shapes = f"obs_vector {list(batch['obs_vector'].shape)}, action {list(batch['action'].shape)}"
            expected = f"vector_dim {hp.vector_dim}, action_dim {hp.action_dim}"
            raise ValueError(f"batch has {shapes}; the module has {expected}")
        actor_opt, critic_opt = self.optimizers()
        every = self.trainer.log_every_n_steps
        # log every `log_every_n_steps` updates (0: never), counted by our own `updates`
        self._log_now = every > 0 and (self.updates + 1) % every == 0
        actor_step = (self.updates + 1) % hp.policy_delay == 0
        self._grad_norms = {}
        if hp.image_shift > 0:  # outside any captured graph: the shift is drawn anew for every batch
            batch = {**batch, "obs_image": random_shift(batch["obs_image"], hp.image_shift),
                     "next_obs_image": random_shift(batch["next_obs_image"], hp.image_shift)}
        if self.graphed_update is not None:
            self._graphed_training_step(batch, actor_step)
            return

        critic_loss, q, target_q, critic_state = self.critic_loss(batch)
        critic_opt.zero_grad(set_to_none=True)
        self.manual_backward(critic_loss)
        critic_opt.step()  # per-block clipping runs in on_before_optimizer_step, after AMP unscaling

        actor_loss = actor_state = None
        if actor_step:
            actor_loss, actor_state = self.actor_loss(batch, critic_state)
            actor_opt.zero_grad(set_to_none=True)
            self.manual_backward(actor_loss)
            actor_opt.step()
            self.update_targets()
            self.actor_updates += 1
        self.updates += 1

        if self._log_now:
            self._log_update(critic_loss, q, target_q, critic_state, actor_loss, actor_state, batch)

    def _graphed_training_step(self, batch: dict[str, torch.Tensor], actor_step: bool) -> None:
        metrics = self.graphed_update.step(batch, actor_step)
        actor_opt, critic_opt = self.optimizers()
        for opt in [critic_opt, actor_opt] if actor_step else [critic_opt]:  # Lightning's step counters
            opt._on_before_step()
            opt._on_after_step()
        self.actor_updates += int(actor_step)
        self.updates += 1
        if self._log_now:
            self._write_metrics(metrics, step=self.updates)

    def _log_update(self, critic_loss: Tensor, q: Tensor, target_q: Tensor, critic_state: Tensor,
                    actor_loss: Tensor | None, actor_state: Tensor | None,
                    batch: dict[str, Tensor]) -> None:  # fmt: skip
        metrics = self.update_metrics(critic_loss, q, target_q, critic_state, actor_loss, actor_state, batch)
        self._write_metrics({**metrics, **self._grad_norms}, step=self.updates)

    @torch.no_grad()
    def update_metrics(self, critic_loss: Tensor, q: Tensor, target_q: Tensor, critic_state: Tensor,
                       actor_loss: Tensor | None, actor_state: Tensor | None,
                       batch: dict[str, Tensor] | None = None) -> dict[str, Tensor]:  # fmt: skip
        """train/* and debug/* of this update (detached, on the device); actor ones only when it updated.

        With the batch, also debug/actor_action_change: mean ||mu(s) - mu(s')||^2 (see `action_change`).
        """
        feature_dim = self.hparams.feature_dim
        metrics = {"train/critic_loss": critic_loss, "train/target_q": target_q.mean(),
                   "train/td_error": (q - target_q).abs().mean()}  # fmt: skip
        for i, q_i in enumerate(q):
            metrics[f"train/q{i + 1}"] = q_i.mean()
        metrics.update(feature_stats("debug/critic_cnn_feature", critic_state[:, :feature_dim]))
        if actor_loss is not None:
            metrics["train/actor_loss"] = actor_loss
            # a saturated tanh actor (|a| -> 1) hides a flat critic: Adam walks it into a corner of the box
            action = self.actor(actor_state)
            metrics["debug/actor_saturation"] = (action.abs() > 0.99).float().mean()
            for i, mean in enumerate(action.mean(dim=0)):
                metrics[f"debug/actor_action_mean_{i}"] = mean
            if batch is not None:  # bang-bang control shows here long before it shows in evaluation
                metrics["debug/actor_action_change"] = self.action_change(batch, action).mean()
            if not self.shared:
                metrics.update(feature_stats("debug/actor_cnn_feature", actor_state[:, :feature_dim]))
        return {name: value.detach() for name, value in metrics.items()}

    def _write_metrics(self, metrics: dict[str, Tensor], step: int) -> None:
        """Write straight to the loggers at step `updates`, with one host sync for all values.

        `self.log` would not do for the loggers: Lightning re-sends the last value of every key at
        each of its logging steps, so actor metrics would show on steps where the actor did not
        update. The values also go to `trainer.callback_metrics` (logger=False) for callbacks that
        watch them (halts on Q / TD error, checkpoint monitors) and the progress bar.
        """
        values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()]).tolist()
        scalars = dict(zip(metrics, values, strict=True))
        for opt in self.optimizers():
            for group in opt.param_groups:
                scalars[f"lr/{group['network']}_{group['block']}"] = group["lr"]
        for logger in self.loggers:
            logger.log_metrics(scalars, step=step)
        # batch_size=1: these are scalars, not batch averages (keeps Lightning from inferring one)
        self.log_dict(scalars, logger=False, batch_size=1)
        self.log("critic_loss", scalars["train/critic_loss"], prog_bar=True, logger=False, batch_size=1)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Lightning calls this after the backward and after AMP unscaling, before optimizer.step."""
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None and getattr(optimizer, "_step_supports_amp_scaling", False):
            # Lightning leaves a fused optimizer's gradients scaled (its step could unscale them), but
            # clipping must see unscaled ones: unscale here; scaler.step then skips its own unscaling
            scaler.unscale_(optimizer)
        self._grad_norms.update(self.clip_gradients(optimizer, measure=self._log_now))

    def clip_gradients(self, optimizer: torch.optim.Optimizer, measure: bool) -> dict[str, Tensor]:
        """Per-block clipping of one optimizer's gradients; `gradients/*` norms when `measure`."""
        network = optimizer.param_groups[0]["network"]
        metrics = {}
        for block, (before, after) in clip_blocks(optimizer, self.max_norms[network], measure).items():
            metrics[f"gradients/{network}_{block}_norm_before_clip"] = before
            metrics[f"gradients/{network}_{block}_norm_after_clip"] = after
        return metrics

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp = self.hparams
        actor_groups = parameter_groups(
            "actor", {"cnn": self.actor_encoder, "mlp": self.actor},
            {"cnn": hp.actor_cnn_lr, "mlp": hp.actor_mlp_lr}, hp.weight_decay,
        )  # fmt: skip
        critic_groups = parameter_groups(
            "critic", {"cnn": self.critic_encoder, "mlp": self.critic},
            {"cnn": hp.critic_cnn_lr, "mlp": hp.critic_mlp_lr}, hp.weight_decay,
        )  # fmt: skip
        implementation = resolve_implementation(hp.fused_optimizer, self.device)
        return [make_optimizer(hp.optimizer, actor_groups, implementation),
                make_optimizer(hp.optimizer, critic_groups, implementation)]  # fmt: skip

    def on_train_start(self) -> None:
        """A restored optimizer state brings the implementation flags it was saved with: use ours."""
        implementation = resolve_implementation(self.hparams.fused_optimizer, self.device)
        for opt in self.optimizers():
            apply_implementation(opt.optimizer if hasattr(opt, "optimizer") else opt, implementation,
                                 capturable=self.hparams.cuda_graph)  # fmt: skip
        if self.hparams.cuda_graph:
            self.check_cuda_graph_setup(self.trainer)
            from lightning_td3.agent.graphed_update import GraphedUpdate  # imports this module

            self.graphed_update = GraphedUpdate(self)

    def on_train_end(self) -> None:
        self.graphed_update = None  # the graphs hold device memory; a later fit captures again

    def check_cuda_graph_setup(self, trainer: L.Trainer) -> None:
        """Raises a one-line ValueError where `cuda_graph` cannot run (the CLI calls it before fitting)."""
        if not self.hparams.cuda_graph:
            return
        device = trainer.strategy.root_device
        if device.type != "cuda":
            raise ValueError(f"cuda_graph needs the module on a CUDA device; it is on {device.type}")
        if trainer.world_size > 1:
            raise ValueError("cuda_graph runs in one process only (DDP's gradient hooks cannot be captured)")
        if getattr(trainer.precision_plugin, "scaler", None) is not None:
            raise ValueError("cuda_graph supports precision 32 and bf16-mixed, not 16-mixed (GradScaler)")

    # ---- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(
        self, observation: dict[str, np.ndarray], explore: bool = False, noise_std: float = 0.1
    ) -> np.ndarray:
        """Policy action(s) in [-1, 1] for {"image": uint8 [S,H,W] or [N,S,H,W], "vector": [D] or [N,D]}.

        explore adds N(0, noise_std) before clipping. Unbatched in, unbatched out.
        """
        image = np.asarray(observation["image"])
        if image.dtype != np.uint8 or image.ndim not in (3, 4):
            shape = f"{image.dtype} {list(image.shape)}"
            raise ValueError(f"observation['image'] must be uint8 [S,H,W] or [N,S,H,W], got {shape}")
        batched = image.ndim == 4
        images = image if batched else image[None]
        dim = self.hparams.vector_dim
        vector = np.asarray(observation.get("vector", np.zeros((len(images), 0))), dtype=np.float32)
        vectors = vector if vector.ndim == 2 else vector[None]
        if vectors.shape != (len(images), dim):
            raise ValueError(f"observation['vector'] must be [{dim}] per image, got {list(vector.shape)}")
        encoder = self.critic_encoder if self.shared else self.actor_encoder
        state = self.encode_state(
            encoder, torch.as_tensor(images, device=self.device), torch.as_tensor(vectors, device=self.device)
        )
        action = self.actor(state)
        if explore and noise_std > 0:
            action = (action + noise_std * torch.randn_like(action)).clamp(-1.0, 1.0)
        action = action.float().cpu().numpy()
        return action if batched else action[0]

    # ---- evaluation ---------------------------------------------------------------------------
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.val_metrics.update(batch)

    def on_validation_epoch_end(self) -> None:
        self._log_episode_metrics(self.val_metrics, "eval")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.test_metrics.update(batch)

    def on_test_epoch_end(self) -> None:
        self._log_episode_metrics(self.test_metrics, "test")

    def _log_episode_metrics(self, metric: DrivingEpisodeMetrics, prefix: str) -> None:
        if int(metric.episodes) > 0:
            self.log_dict({f"{prefix}/{k}": v.float() for k, v in metric.compute().items()}, on_epoch=True)
        metric.reset()

    # ---- checkpoint -------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["td3_counters"] = {"updates": self.updates, "actor_updates": self.actor_updates}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("td3_counters", {})
        self.updates = int(counters.get("updates", 0))
        self.actor_updates = int(counters.get("actor_updates", 0))
