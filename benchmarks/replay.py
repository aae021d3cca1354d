"""Replay memory and sample latency: FrameReplayBuffer vs SB3 ReplayBuffer (84x84x4 uint8, CPU).

    python benchmarks/replay.py [--transitions 20000] [--batch 256] [--repeats 200]

Memory = nbytes of every allocated array / capacity. Latency = median wall time of one
`sample(batch)` returning torch tensors (single thread), measured in interleaved rounds so that
load from other processes on a shared machine hits every buffer alike. SB3 is measured with its image-only
`ReplayBuffer` (obs (4,84,84) uint8): its DictReplayBuffer, which could hold our vector, has no
optimize_memory_usage. The ratios are therefore taken against ours holding the same content (frames
only, `vector_dim=0`); ours with the 53-float vector training uses is listed too.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import torch
from gymnasium import spaces

from lightning_td3.replay import FrameReplayBuffer

FRAME, STACK, VECTOR, ACTION = 84, 4, 53, 2
EPISODE = 500


def _latencies_ms(
    samplers: dict[str, Callable[[], object]], repeats: int, rounds: int = 10
) -> dict[str, float]:
    for sample in samplers.values():
        for _ in range(5):
            sample()
    times: dict[str, list[float]] = {name: [] for name in samplers}
    for _ in range(rounds):
        for name, sample in samplers.items():
            for _ in range(max(1, repeats // rounds)):
                start = time.perf_counter()
                sample()
                times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


def _frames(transitions: int, seed: int = 0) -> np.ndarray:
    """A small pool of distinct frames, cycled: memory and latency do not depend on content."""
    return np.random.default_rng(seed).integers(0, 256, (min(transitions, 2000), 1, FRAME, FRAME), np.uint8)


def fill_ours(transitions: int, n_step: int, vector_dim: int = VECTOR) -> FrameReplayBuffer:
    frames = _frames(transitions)
    vector = np.zeros(vector_dim, np.float32)
    buf = FrameReplayBuffer(transitions, (FRAME, FRAME), vector_dim, ACTION, STACK, n_step=n_step)
    action = np.zeros(ACTION, np.float32)
    for t in range(transitions):
        if not buf.in_episode:
            buf.start_episode({"image": frames[t % len(frames)], "vector": vector})
        ended = t % EPISODE == EPISODE - 1
        buf.add(action, 1.0, {"image": frames[(t + 1) % len(frames)], "vector": vector}, False, ended)
    return buf


def fill_sb3(transitions: int, optimize: bool) -> tuple[object, float]:
    """An SB3 ReplayBuffer holding `transitions` steps, and its bytes per transition."""
    from stable_baselines3.common.buffers import ReplayBuffer

    obs_space = spaces.Box(0, 255, (STACK, FRAME, FRAME), np.uint8)
    act_space = spaces.Box(-1, 1, (ACTION,), np.float32)
    buf = ReplayBuffer(
        transitions, obs_space, act_space, device="cpu",
        optimize_memory_usage=optimize, handle_timeout_termination=not optimize,
    )
    frames = _frames(transitions)
    stack = deque([frames[0, 0]] * STACK, maxlen=STACK)
    action = np.zeros((1, ACTION), np.float32)
    for t in range(transitions):
        obs = np.stack(stack)[None]
        stack.append(frames[(t + 1) % len(frames), 0])
        done = t % EPISODE == EPISODE - 1
        buf.add(obs, np.stack(stack)[None], action, np.ones(1), np.array([done]), [{}])
    names = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
    arrays = [getattr(buf, name, None) for name in names]
    nbytes = sum(a.nbytes for a in arrays if a is not None)
    return buf, nbytes / buf.buffer_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()

    buffers = {
        "ours (n=1, frames only)": fill_ours(args.transitions, n_step=1, vector_dim=0),
        "ours (n=1, +vector 53)": fill_ours(args.transitions, n_step=1),
        "ours (n=3, +vector 53)": fill_ours(args.transitions, n_step=3),
    }
    memory = {name: buf.bytes_per_transition() for name, buf in buffers.items()}
    for optimize in (True, False):
        name = f"SB3 optimize_memory_usage={optimize}"
        buffers[name], memory[name] = fill_sb3(args.transitions, optimize)
    samplers = {name: (lambda buf=buf: buf.sample(args.batch)) for name, buf in buffers.items()}
    latency = _latencies_ms(samplers, args.repeats)
    rows = {name: (memory[name], latency[name]) for name in buffers}

    ours_bytes, ours_ms = rows["ours (n=1, frames only)"]  # the same content as SB3's rows
    print(f"\n{args.transitions} transitions, batch {args.batch}, 84x84x{STACK} uint8, CPU, torch threads 1")
    print(f"{'buffer':34s} {'B/transition':>12s} {'KiB':>7s} {'GB @1M':>7s} {'sample ms':>10s} "
          f"{'mem x ours':>10s} {'time x ours':>11s}   (x ours = / ours frames only, SB3's content)")
    for name, (per, ms) in rows.items():
        print(f"{name:34s} {per:12.0f} {per / 1024:7.2f} {per * 1e6 / 1e9:7.2f} {ms:10.3f} "
              f"{per / ours_bytes:10.2f} {ms / ours_ms:11.2f}")
    print(f"(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
