"""Frame-deduplicated replay: each env frame is stored once as uint8; stacks are rebuilt when sampled.

Storage is a ring of *observation slots* addressed by an absolute position p (slot = p % capacity). An
episode occupies consecutive positions: its first observation (written by `start_episode`), then one
slot per `add`, holding the new observation plus the action, reward and terminated/truncated flags of
the step that led to it, and the observation's step index in its episode.

The transition "from position p" reads the frame stack ending at p (repeating the episode's first
frame before it), the action stored at p+1, the n-step rewards at p+1..p+m and the stack ending at
p+m, where m <= n stops at the episode's end. It may be sampled iff
  - p is not the last observation of an episode (no action was taken there),
  - its n-step window is complete (m = n steps stored, or the episode ended inside the window),
  - every slot it reads is live: not overwritten, and not the oldest slot, which the next write
    replaces (so the live window is the last capacity - 1 positions).
Invalid positions are only: episode ends, the first frame_stack - 1 live positions, and the last n
positions. Sampling therefore draws uniformly from the live window and redraws the few invalid picks
(rejection keeps it uniform over the valid set), which costs O(batch), not O(capacity).

Frames, vectors and actions live on `device` as torch tensors (a CUDA ring needs no host-to-device
copy); the small bookkeeping (rewards, flags, step indices) lives in host numpy, so validity checks
and n-step sums never synchronise with the GPU.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
import torch

from lightning_td3.replay import files
from lightning_td3.replay.files import ReplayFileError

Observation = dict[str, Any]
STORAGE_KEYS = ("capacity", "frame_shape", "vector_dim", "action_dim")
_REJECTION_ROUNDS = 8


class FrameReplayBuffer:
    """Preallocated ring of single uint8 frames with n-step, episode-aware sampling (DrQ-v2 style API).

    Use: `start_episode(obs)` at every reset, then `add(action, reward, next_obs, terminated, truncated)`
    per env step; after a step that terminated or truncated, the next call must be `start_episode`.
    """

    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, int] = (84, 84),
        vector_dim: int = 0,
        action_dim: int = 2,
        frame_stack: int = 4,
        n_step: int = 1,
        gamma: float = 0.99,
        device: str = "cpu",
        seed: int = 0,
        memory_check: bool = True,
    ) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be >= 2 (one slot is left for the next write): {capacity}")
        if len(frame_shape) != 2 or min(frame_shape) < 1:
            raise ValueError(f"frame_shape must be (H, W) with positive sizes, got {frame_shape}")
        if vector_dim < 0 or action_dim < 1 or frame_stack < 1 or n_step < 1:
            raise ValueError(
                f"need vector_dim >= 0, action_dim >= 1, frame_stack >= 1, n_step >= 1; got "
                f"{vector_dim}, {action_dim}, {frame_stack}, {n_step}"
            )
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.capacity = int(capacity)
        self.frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
        self.vector_dim = int(vector_dim)
        self.action_dim = int(action_dim)
        self.frame_stack = int(frame_stack)
        self.n_step = int(n_step)
        self.gamma = float(gamma)
        self.device = torch.device(device)
        self.seed = int(seed)
        if memory_check:
            _check_memory(self.capacity, self._bytes_per_slot(), self.device)

        c, (h, w) = self.capacity, self.frame_shape
        # payload, gathered per batch: on the storage device
        self._frames = torch.zeros((c, h, w), dtype=torch.uint8, device=self.device)
        self._vectors = torch.zeros((c, self.vector_dim), dtype=torch.float32, device=self.device)
        self._actions = torch.zeros((c, self.action_dim), dtype=torch.float32, device=self.device)
        # bookkeeping: host numpy
        self._rewards = np.zeros(c, dtype=np.float32)
        self._terminated = np.zeros(c, dtype=bool)
        self._truncated = np.zeros(c, dtype=bool)
        self._steps = np.zeros(c, dtype=np.int32)

        self._pos = 0  # absolute position of the next write = number of observations written
        self.num_added = 0  # transitions added (add() calls), ever
        self._in_episode = False
        self._episode_step = 0
        self._ended_live = 0  # episode-end slots (terminated or truncated) in the live window
        self._expected_frames: int | None = None  # set by load_state_dict before load()
        self._rng = np.random.default_rng(self.seed)
        self._pin = self.device.type == "cpu" and torch.cuda.is_available()
        self._gamma_powers = self.gamma ** np.arange(self.n_step, dtype=np.float64)

    # -- config / memory -----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "frame_shape": list(self.frame_shape),
            "vector_dim": self.vector_dim,
            "action_dim": self.action_dim,
            "frame_stack": self.frame_stack,
            "n_step": self.n_step,
            "gamma": self.gamma,
        }

    def _bytes_per_slot(self) -> int:
        h, w = self.frame_shape
        return h * w + 4 * self.vector_dim + 4 * self.action_dim + 4 + 1 + 1 + 4

    def _arrays(self) -> dict[str, torch.Tensor | np.ndarray]:
        return {
            "frames": self._frames,
            "vectors": self._vectors,
            "actions": self._actions,
            "rewards": self._rewards,
            "terminated": self._terminated,
            "truncated": self._truncated,
            "steps": self._steps,
        }

    def bytes_per_transition(self) -> float:
        """Bytes of all allocated arrays divided by capacity (one slot = one transition)."""
        return sum(array.nbytes for array in self._arrays().values()) / self.capacity

    # -- writing ---------------------------------------------------------------------------------------
    def start_episode(self, obs: Observation) -> None:
        """Stores the first observation of an episode ({"image": uint8 [1,H,W], "vector": [D]})."""
        if self._in_episode:
            raise ValueError(
                "start_episode() called while an episode is running: end it with add(..., terminated or "
                "truncated) or abandon_episode() first"
            )
        self._write(obs, action=None, reward=0.0, terminated=False, truncated=False, step=0)
        self._in_episode = True
        self._episode_step = 0

    def add(
        self, action: Any, reward: float, next_obs: Observation, terminated: bool, truncated: bool
    ) -> None:
        """Stores one env step: the action taken, its reward, and the observation it led to."""
        if not self._in_episode:
            raise ValueError("add() called outside an episode: call start_episode(obs) after a reset")
        step = self._episode_step + 1
        self._write(next_obs, action, float(reward), bool(terminated), bool(truncated), step)
        self._episode_step = step
        self.num_added += 1
        if terminated or truncated:
            self._in_episode = False

    def abandon_episode(self) -> None:
        """Ends the running episode at its last stored observation, as a truncation.

        For an env reset that the buffer did not see (a resume that cannot restore the simulator, an
        infrastructure fault that dropped a step): the stored steps stay valid transitions that bootstrap.
        """
        if not self._in_episode:
            return
        last = (self._pos - 1) % self.capacity
        if not (self._terminated[last] or self._truncated[last]):
            self._ended_live += 1
        self._truncated[last] = True
        self._in_episode = False

    def _write(
        self, obs: Observation, action: Any, reward: float, terminated: bool, truncated: bool, step: int
    ) -> None:
        image, vector = self._check_obs(obs)
        if action is not None:
            action = torch.as_tensor(np.asarray(action, dtype=np.float32))
            if action.shape != (self.action_dim,):
                raise ValueError(f"action must have shape ({self.action_dim},), got {tuple(action.shape)}")
        slot = self._pos % self.capacity
        self._frames[slot].copy_(image)
        self._vectors[slot].copy_(vector)
        if action is None:
            self._actions[slot].zero_()
        else:
            self._actions[slot].copy_(action)
        self._rewards[slot] = reward
        self._terminated[slot] = terminated
        self._truncated[slot] = truncated
        self._steps[slot] = step
        self._ended_live += int(terminated or truncated)
        self._pos += 1
        # the oldest position leaves the live window: its slot is the next one to be overwritten
        if self._pos >= self.capacity:
            leaving = self._pos % self.capacity
            self._ended_live -= int(self._terminated[leaving] or self._truncated[leaving])

    def _check_obs(self, obs: Observation) -> tuple[torch.Tensor, torch.Tensor]:
        image = obs["image"]
        if not isinstance(image, torch.Tensor):
            image = np.asarray(image)
        h, w = self.frame_shape
        is_uint8 = image.dtype == torch.uint8 if isinstance(image, torch.Tensor) else image.dtype == np.uint8
        if not is_uint8 or tuple(image.shape) not in ((1, h, w), (h, w)):
            raise ValueError(
                f"obs['image'] must be uint8 of shape (1, {h}, {w}), got {image.dtype} {tuple(image.shape)}"
            )
        vector = obs.get("vector", np.zeros(0, np.float32))
        if not isinstance(vector, torch.Tensor):
            vector = np.asarray(vector, dtype=np.float32)
        if tuple(vector.shape) != (self.vector_dim,):
            raise ValueError(f"obs['vector'] must have shape ({self.vector_dim},), got {tuple(vector.shape)}")
        image = torch.as_tensor(image).reshape(h, w)
        return image, torch.as_tensor(vector, dtype=torch.float32)

    # -- validity ----------------------------------------------------------------------------------------
    @property
    def _tail(self) -> int:
        """Oldest sampleable position: the oldest live one is kept free for the next write."""
        return max(0, self._pos - self.capacity + 1)

    def _window(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For absolute positions: (valid mask, m = number of steps in each n-step window)."""
        c, n = self.capacity, self.n_step
        slots = positions % c
        start = positions - self._steps[slots]
        ahead = positions[:, None] + np.arange(1, n + 1)
        exists = ahead < self._pos
        ahead_slots = ahead % c
        ends = (self._terminated[ahead_slots] | self._truncated[ahead_slots]) & exists
        has_end = ends.any(axis=1)
        m = np.where(has_end, ends.argmax(axis=1) + 1, n)
        valid = (
            (positions >= self._tail)
            & (positions < self._pos)
            & ~(self._terminated[slots] | self._truncated[slots])
            & (has_end | exists[:, -1])
            & (np.maximum(positions - self.frame_stack + 1, start) >= self._tail)
        )
        return valid, m

    def valid_indices(self) -> np.ndarray:
        """All sampleable absolute positions, ascending (O(capacity); for checks, not the hot path)."""
        positions = np.arange(self._tail, self._pos, dtype=np.int64)
        return positions[self._window(positions)[0]]

    def __len__(self) -> int:
        """Number of sampleable transitions, in O(frame_stack + n_step)."""
        tail, pos = self._tail, self._pos
        live = pos - tail
        # invalid positions that are not episode ends lie in the first frame_stack-1 or last n_step positions
        edges = np.unique(np.concatenate([
            np.arange(tail, min(tail + self.frame_stack - 1, pos)),
            np.arange(max(pos - self.n_step, tail), pos),
        ])).astype(np.int64)
        slots = edges % self.capacity
        not_ended = ~(self._terminated[slots] | self._truncated[slots])
        other_invalid = int((not_ended & ~self._window(edges)[0]).sum())
        return live - self._ended_live - other_invalid

    @property
    def in_episode(self) -> bool:
        return self._in_episode

    # -- sampling --------------------------------------------------------------------------------------
    def sample_indices(self, batch_size: int) -> np.ndarray:
        """Uniform draws over the valid positions (absolute, int64), from the buffer's seeded generator."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(self) == 0:
            raise ValueError("cannot sample: the replay holds no complete transition yet")
        out = np.empty(batch_size, dtype=np.int64)
        missing = np.arange(batch_size)
        for _ in range(_REJECTION_ROUNDS):
            draws = self._rng.integers(self._tail, self._pos, size=missing.size, dtype=np.int64)
            ok = self._window(draws)[0]
            out[missing[ok]] = draws[ok]
            missing = missing[~ok]
            if missing.size == 0:
                return out
        out[missing] = self._rng.choice(self.valid_indices(), size=missing.size)  # tiny / sparse buffers
        return out

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """A batch in the replay batch format (obs_image uint8 [B,S,H,W], ..., discount float32 [B])."""
        return self._gather(self.sample_indices(batch_size))

    def _gather(self, positions: np.ndarray) -> dict[str, torch.Tensor]:
        positions = np.asarray(positions, dtype=np.int64)
        valid, m = self._window(positions)
        if not valid.all():
            raise ValueError(f"positions {positions[~valid][:5].tolist()} are not sampleable transitions")
        c, n = self.capacity, self.n_step
        start = positions - self._steps[positions % c]
        next_positions = positions + m
        # n-step return: sum_{i<m} gamma^i r_{p+1+i}, summed in float64 then rounded once
        ahead_slots = (positions[:, None] + np.arange(1, n + 1)) % c
        in_window = np.arange(1, n + 1) <= m[:, None]
        rewards = (self._rewards[ahead_slots].astype(np.float64) * self._gamma_powers * in_window).sum(axis=1)
        terminated = self._terminated[next_positions % c]

        offsets = np.arange(1 - self.frame_stack, 1)
        obs_slots = np.maximum(positions[:, None] + offsets, start[:, None]) % c
        next_slots = np.maximum(next_positions[:, None] + offsets, start[:, None]) % c
        to = self._to_device
        return {
            "obs_image": self._take(self._frames, obs_slots),
            "obs_vector": self._take(self._vectors, positions % c),
            "action": self._take(self._actions, (positions + 1) % c),
            "reward": to(rewards.astype(np.float32)),
            "next_obs_image": self._take(self._frames, next_slots),
            "next_obs_vector": self._take(self._vectors, next_positions % c),
            "terminated": to(terminated.astype(np.float32)),
            "discount": to((self.gamma ** m.astype(np.float64)).astype(np.float32)),
        }

    def _take(self, source: torch.Tensor, slots: np.ndarray) -> torch.Tensor:
        index = torch.from_numpy(slots.reshape(-1)).to(self.device, non_blocking=True)
        shape = (*slots.shape, *source.shape[1:])
        if self._pin:
            out = torch.empty((index.numel(), *source.shape[1:]), dtype=source.dtype, pin_memory=True)
            return torch.index_select(source, 0, index, out=out).view(shape)
        return torch.index_select(source, 0, index).view(shape)

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        if self._pin:
            return tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)

    # -- state -------------------------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return {
            "num_frames": self._pos,
            "num_added": self.num_added,
            "in_episode": self._in_episode,
            "episode_step": self._episode_step,
        }

    def state_dict(self) -> dict[str, Any]:
        """Small: config, counters, episode state and the sampler RNG (the arrays go through save())."""
        return {
            "format_version": files.FORMAT_VERSION,
            "config": self.config(),
            **self._metadata(),
            "rng_state": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the sampler RNG; the arrays come from load(path), before or after this call.

        The metadata must agree with the arrays: a replay file and a checkpoint from different
        moments are an error, not a silently inconsistent resume.
        """
        self._check_config(state["config"], "replay state dict")
        if self._pos == 0 and state["num_frames"] > 0:
            self._expected_frames = int(state["num_frames"])
        elif self._pos != state["num_frames"]:
            raise ValueError(
                f"replay state dict is from observation {state['num_frames']} but the buffer holds "
                f"{self._pos}: the replay file and the checkpoint come from different moments"
            )
        self._rng.bit_generator.state = state["rng_state"]

    def save(self, path: str | os.PathLike) -> None:
        """Writes the filled part of the ring and its metadata atomically (temp file, fsync, rename)."""
        rows = min(self._pos, self.capacity)
        files.write_arrays(path, {"config": self.config(), "meta": self._metadata()}, self._arrays(), rows)

    def load(self, path: str | os.PathLike) -> None:
        """Reads a file written by save(); raises ReplayFileError if missing, corrupt or not matching."""
        header = files.read_header(path)
        self._check_config(header["config"], f"replay file {path}", error=ReplayFileError)
        meta = header["meta"]
        rows = min(meta["num_frames"], self.capacity)
        if self._expected_frames is not None and meta["num_frames"] != self._expected_frames:
            raise ReplayFileError(
                f"replay file {path} holds observation {meta['num_frames']} but the loaded state dict "
                f"expects {self._expected_frames}: the file and the checkpoint come from different moments"
            )
        arrays = self._arrays()
        stored = {entry["name"]: entry for entry in header["arrays"]}
        for name, array in arrays.items():
            entry = stored.get(name)
            dtype = str(array.dtype).removeprefix("torch.")
            expected = (dtype, [rows, *array.shape[1:]])
            got = None if entry is None else (entry["dtype"], entry["shape"])
            if got != expected:
                raise ReplayFileError(f"replay file {path}: array {name!r} is {got}, expected {expected}")
        try:
            files.read_arrays(path, header, arrays)
        except ReplayFileError:
            self._reset_metadata()
            raise
        self._pos = int(meta["num_frames"])
        self.num_added = int(meta["num_added"])
        self._in_episode = bool(meta["in_episode"])
        self._episode_step = int(meta["episode_step"])
        self._expected_frames = None
        live = np.arange(self._tail, self._pos) % self.capacity
        self._ended_live = int((self._terminated[live] | self._truncated[live]).sum())

    def _reset_metadata(self) -> None:
        self._pos = self.num_added = self._episode_step = self._ended_live = 0
        self._in_episode = False

    def _check_config(self, other: dict[str, Any], where: str, error: type[ValueError] = ValueError) -> None:
        """Storage fields must match; frame_stack, n_step and gamma only shape sampling and may change."""
        mine = self.config()
        wrong = [f"{k} {other.get(k)} != {mine[k]}" for k in STORAGE_KEYS if other.get(k) != mine[k]]
        if wrong:
            raise error(f"{where} does not fit this buffer: " + ", ".join(wrong))

    def __repr__(self) -> str:
        return (
            f"FrameReplayBuffer(capacity={self.capacity}, frame_shape={self.frame_shape}, len={len(self)}, "
            f"num_added={self.num_added}, n_step={self.n_step}, device={self.device})"
        )


def _available_memory(device: torch.device) -> int | None:
    """Bytes free for the ring: CUDA free memory on a GPU, MemAvailable (or psutil) on the host."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _check_memory(capacity: int, bytes_per_slot: int, device: torch.device) -> None:
    need = capacity * bytes_per_slot
    available = _available_memory(device)
    if available is None:
        return
    gib = 2**30
    if need > available:
        raise ValueError(
            f"replay capacity {capacity} needs {need / gib:.2f} GiB on {device} but only "
            f"{available / gib:.2f} GiB is available: lower the capacity"
        )
    if need > 0.8 * available:
        warnings.warn(
            f"replay capacity {capacity} needs {need / gib:.2f} GiB, {math.floor(100 * need / available)}% "
            f"of the {available / gib:.2f} GiB available on {device}",
            UserWarning,
            stacklevel=3,
        )


__all__ = ["FrameReplayBuffer", "ReplayFileError"]
