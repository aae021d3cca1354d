"""FrameReplayBuffer against a naive reference that stores every stacked obs / next_obs per transition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_td3.replay import FrameReplayBuffer
from lightning_td3.replay import buffer as buffer_module

torch.set_num_threads(1)
H = W = 6


class NaiveReplay:
    """Every transition stored whole (stacks copied), keyed by the absolute position of its observation.

    It knows nothing of rings: it records which positions each transition read and calls it sampleable
    while all of them are among the capacity - 1 newest positions.
    """

    def __init__(self, capacity: int, frame_stack: int, n_step: int, gamma: float) -> None:
        self.capacity, self.frame_stack, self.n_step, self.gamma = capacity, frame_stack, n_step, gamma
        self.num_frames = 0
        self.records: dict[int, dict] = {}
        self.episode: list[dict] = []  # per observation: position, image, vector, and the step that led to it
        self.emitted = 0

    def start_episode(self, obs: dict) -> None:
        first = {"pos": self.num_frames, "image": obs["image"][0].copy(), "vector": obs["vector"].copy()}
        self.episode = [first]
        self.emitted = 0
        self.num_frames += 1

    def add(self, action, reward, next_obs, terminated, truncated) -> None:
        self.episode.append({
            "pos": self.num_frames, "image": next_obs["image"][0].copy(), "vector": next_obs["vector"].copy(),
            "action": np.asarray(action, np.float32).copy(), "reward": float(np.float32(reward)),
            "terminated": terminated, "truncated": truncated,
        })
        self.num_frames += 1
        self._emit(ended=terminated or truncated)

    def abandon_episode(self) -> None:
        self.episode[-1]["truncated"] = True
        self._emit(ended=True)

    def _stack(self, j: int) -> tuple[np.ndarray, list[int]]:
        js = [max(0, j - self.frame_stack + 1 + i) for i in range(self.frame_stack)]
        return np.stack([self.episode[i]["image"] for i in js]), [self.episode[i]["pos"] for i in js]

    def _emit(self, ended: bool) -> None:
        steps = len(self.episode) - 1
        for j in range(self.emitted, steps):
            if steps - j < self.n_step and not ended:
                break
            m = min(self.n_step, steps - j)
            obs, obs_reads = self._stack(j)
            next_obs, next_reads = self._stack(j + m)
            window = self.episode[j + 1 : j + m + 1]
            self.records[self.episode[j]["pos"]] = {
                "obs_image": obs, "obs_vector": self.episode[j]["vector"],
                "action": self.episode[j + 1]["action"],
                "reward": sum(self.gamma**i * s["reward"] for i, s in enumerate(window)),
                "next_obs_image": next_obs, "next_obs_vector": self.episode[j + m]["vector"],
                "terminated": float(self.episode[j + m]["terminated"]), "discount": self.gamma**m,
                "reads": set(obs_reads) | set(next_reads) | {s["pos"] for s in window},
            }
            self.emitted = j + 1

    def valid(self) -> set[int]:
        oldest = self.num_frames - self.capacity + 1
        for key in [k for k, r in self.records.items() if min(r["reads"]) < oldest]:
            del self.records[key]  # never sampleable again
        return set(self.records)


def _obs(rng: np.random.Generator, counter: int, vector_dim: int) -> dict:
    image = rng.integers(0, 256, (1, H, W), dtype=np.uint8)
    image[0, 0, :4] = np.frombuffer(np.int32(counter).tobytes(), np.uint8)  # unique per frame
    return {"image": image, "vector": rng.normal(size=vector_dim).astype(np.float32)}


def _assert_batch_matches(batch: dict, records: list[dict]) -> None:
    for key in ("obs_image", "next_obs_image", "obs_vector", "next_obs_vector", "action"):
        expected = torch.from_numpy(np.stack([r[key] for r in records]))
        assert torch.equal(batch[key], expected), key
    for key in ("terminated", "reward", "discount"):
        expected = torch.tensor([r[key] for r in records], dtype=torch.float32)
        torch.testing.assert_close(batch[key], expected, rtol=1e-6, atol=1e-6, msg=key)


@pytest.mark.parametrize(
    ("capacity", "frame_stack", "n_step", "vector_dim"),
    [(17, 4, 1, 3), (23, 4, 3, 3), (64, 2, 3, 0), (9, 1, 1, 2), (40, 4, 3, 5)],
)
def test_matches_naive_reference_through_ring_wraps(capacity, frame_stack, n_step, vector_dim):
    gamma = 0.9
    rng = np.random.default_rng(capacity * 100 + frame_stack * 10 + n_step)
    buf = FrameReplayBuffer(
        capacity, (H, W), vector_dim, 2, frame_stack, n_step, gamma, seed=1, memory_check=False
    )
    ref = NaiveReplay(capacity, frame_stack, n_step, gamma)
    counter, checked, sampled = 0, 0, 0
    for _episode in range(60):
        obs = _obs(rng, counter, vector_dim)
        counter += 1
        buf.start_episode(obs)
        ref.start_episode(obs)
        length = int(rng.integers(1, 2 * capacity))  # some episodes longer than the ring
        for t in range(length):
            action = rng.uniform(-1, 1, 2).astype(np.float32)
            reward = float(rng.normal())
            obs = _obs(rng, counter, vector_dim)
            counter += 1
            last = t == length - 1
            terminated = last and rng.random() < 0.5
            truncated = last and not terminated and rng.random() < 0.8
            buf.add(action, reward, obs, terminated, truncated)
            ref.add(action, reward, obs, terminated, truncated)

            valid = ref.valid()
            assert set(buf.valid_indices().tolist()) == valid
            assert len(buf) == len(valid)
            if valid and rng.random() < 0.3:
                indices = buf.sample_indices(32)
                assert set(indices.tolist()) <= valid
                _assert_batch_matches(buf._gather(indices), [ref.records[i] for i in indices.tolist()])
                sampled += 1
            if valid and rng.random() < 0.1:
                everything = np.array(sorted(valid))
                _assert_batch_matches(buf._gather(everything), [ref.records[i] for i in everything.tolist()])
                checked += 1
        if not (terminated or truncated):
            buf.abandon_episode()
            ref.abandon_episode()
    assert buf.num_added == counter - 60
    assert buf._pos > 4 * capacity  # wrapped several times
    assert sampled > 50 and checked > 10


def test_n_step_window_sums_rewards_and_stops_at_episode_end():
    buf = FrameReplayBuffer(50, (H, W), 0, 1, 2, 3, gamma=0.5, memory_check=False)
    rng = np.random.default_rng(0)
    buf.start_episode(_obs(rng, 0, 0))
    for t, reward in enumerate([1.0, 2.0, 4.0, 8.0]):
        buf.add([0.1 * t], reward, _obs(rng, t + 1, 0), terminated=t == 3, truncated=False)
    batch = buf._gather(np.arange(4))
    # p=0: 1 + .5*2 + .25*4; p=1: 2 + .5*4 + .25*8 (terminal at its third step); p=2: 4 + .5*8; p=3: 8
    assert batch["reward"].tolist() == [3.0, 6.0, 8.0, 8.0]
    assert batch["discount"].tolist() == [0.125, 0.125, 0.25, 0.5]
    assert batch["terminated"].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert torch.allclose(batch["action"][:, 0], torch.tensor([0.0, 0.1, 0.2, 0.3]))
    assert len(buf) == 4


def test_truncation_keeps_last_obs_as_next_obs_and_bootstraps():
    buf = FrameReplayBuffer(50, (H, W), 1, 2, 4, 3, gamma=0.9, memory_check=False)
    rng = np.random.default_rng(1)
    frames = [_obs(rng, i, 1) for i in range(3)]
    buf.start_episode(frames[0])
    buf.add([0, 0], 1.0, frames[1], False, False)
    buf.add([0, 0], 1.0, frames[2], False, True)
    batch = buf._gather(np.array([0, 1]))
    assert batch["terminated"].tolist() == [0.0, 0.0]
    assert torch.equal(batch["next_obs_image"][0, -1], torch.from_numpy(frames[2]["image"][0]))
    assert torch.equal(batch["next_obs_image"][0, 0], torch.from_numpy(frames[0]["image"][0]))  # padded
    torch.testing.assert_close(batch["discount"], torch.tensor([0.81, 0.9]))


def test_sampling_is_uniform_over_valid_transitions():
    buf = FrameReplayBuffer(40, (H, W), 0, 2, 4, 1, memory_check=False, seed=3)
    rng = np.random.default_rng(0)
    buf.start_episode(_obs(rng, 0, 0))
    for t in range(100):  # wraps; episodes of 7 so that episode ends are interleaved
        buf.add([0, 0], 0.0, _obs(rng, t + 1, 0), terminated=t % 7 == 6, truncated=False)
        if t % 7 == 6:
            buf.start_episode(_obs(rng, 1000 + t, 0))
    valid = buf.valid_indices()
    draws = 1000 * len(valid)
    counts = np.bincount(np.concatenate([buf.sample_indices(1000) for _ in range(len(valid))]) - valid[0])
    counts = counts[valid - valid[0]]
    assert counts.sum() == draws  # nothing outside the valid set
    assert np.abs(counts - 1000).max() < 140  # binomial std ~31


def test_sample_returns_the_batch_format_on_device():
    buf = FrameReplayBuffer(100, (H, W), 3, 2, 4, 1, memory_check=False)
    rng = np.random.default_rng(0)
    buf.start_episode(_obs(rng, 0, 3))
    for t in range(20):
        buf.add([0.5, -0.5], 1.0, _obs(rng, t + 1, 3), False, False)
    state = buf.state_dict()
    batch = buf.sample(8)
    expected = {
        "obs_image": (torch.uint8, (8, 4, H, W)), "obs_vector": (torch.float32, (8, 3)),
        "action": (torch.float32, (8, 2)), "reward": (torch.float32, (8,)),
        "next_obs_image": (torch.uint8, (8, 4, H, W)), "next_obs_vector": (torch.float32, (8, 3)),
        "terminated": (torch.float32, (8,)), "discount": (torch.float32, (8,)),
    }
    assert {k: (v.dtype, tuple(v.shape)) for k, v in batch.items()} == expected
    buf.load_state_dict(state)  # same RNG state: sample == _gather(sample_indices)
    again = buf._gather(buf.sample_indices(8))
    assert all(torch.equal(batch[k], again[k]) for k in batch)


def test_misuse_raises_clear_errors():
    buf = FrameReplayBuffer(10, (H, W), 2, 2, memory_check=False)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="outside an episode: call start_episode"):
        buf.add([0, 0], 0.0, _obs(rng, 0, 2), False, False)
    with pytest.raises(ValueError, match="no complete transition"):
        buf.sample(4)
    buf.start_episode(_obs(rng, 0, 2))
    with pytest.raises(ValueError, match="while an episode is running"):
        buf.start_episode(_obs(rng, 1, 2))
    with pytest.raises(ValueError, match=r"must be uint8 of shape \(1, 6, 6\)"):
        buf.add([0, 0], 0.0, {"image": np.zeros((1, 6, 6), np.float32), "vector": np.zeros(2)}, False, False)
    with pytest.raises(ValueError, match=r"vector'\] must have shape \(2,\)"):
        buf.add([0, 0], 0.0, {"image": np.zeros((1, 6, 6), np.uint8), "vector": np.zeros(3)}, False, False)
    with pytest.raises(ValueError, match=r"action must have shape \(2,\)"):
        buf.add([0, 0, 0], 0.0, _obs(rng, 1, 2), False, False)
    assert buf.num_added == 0 and buf._pos == 1  # rejected steps wrote nothing
    buf.add([0, 0], 0.0, _obs(rng, 1, 2), False, False)
    buf.add([0, 0], 0.0, _obs(rng, 2, 2), True, False)
    assert len(buf) == 2  # the episode's step count is intact: position 1 stacks [f0, f0, f0, f1]
    first, second = buf._frames[0], buf._frames[1]
    assert torch.equal(buf._gather(np.array([1]))["obs_image"][0], torch.stack([first] * 3 + [second]))
    with pytest.raises(ValueError, match="outside an episode"):
        buf.add([0, 0], 0.0, _obs(rng, 2, 2), False, False)
    with pytest.raises(ValueError, match="capacity must be >= 2"):
        FrameReplayBuffer(1)


def test_abandon_episode_truncates_at_the_last_stored_step():
    buf = FrameReplayBuffer(20, (H, W), 0, 2, 2, 3, memory_check=False)
    rng = np.random.default_rng(0)
    buf.start_episode(_obs(rng, 0, 0))
    buf.add([0, 0], 1.0, _obs(rng, 1, 0), False, False)
    assert len(buf) == 0  # n-step window of position 0 incomplete
    buf.abandon_episode()
    assert not buf.in_episode and len(buf) == 1
    assert buf._gather(np.array([0]))["terminated"].item() == 0.0
    buf.start_episode(_obs(rng, 2, 0))  # allowed now
    assert buf.in_episode


def test_bytes_per_transition_at_84x84_stack_4():
    buf = FrameReplayBuffer(1000, (84, 84), vector_dim=53, action_dim=2, frame_stack=4)
    per = buf.bytes_per_transition()
    assert per == 84 * 84 + 53 * 4 + 2 * 4 + 4 + 1 + 1 + 4  # frame, vector, action, reward, flags, step
    assert per <= 7.2 * 1024
    stacked_float32 = 2 * 4 * 84 * 84 * 4  # obs + next_obs as float32 stacks, the reference system's layout
    assert stacked_float32 / per > 30


def test_memory_check_refuses_what_cannot_fit(monkeypatch):
    monkeypatch.setattr(buffer_module, "_available_memory", lambda device: 10 * 2**20)
    with pytest.raises(ValueError, match=r"replay capacity 2000 needs 0.01 GiB on cpu but only 0.01 GiB"):
        FrameReplayBuffer(2000, (84, 84), 53)  # 14.6 MB > 10 MiB
    with pytest.warns(UserWarning, match="% of the"):
        FrameReplayBuffer(1300, (84, 84), 53)  # 9.5 MB: > 80 % of 10 MiB
    FrameReplayBuffer(2000, (84, 84), 53, memory_check=False)


def test_memory_check_uses_real_available_memory():
    with pytest.raises(ValueError, match="lower the capacity"):
        FrameReplayBuffer(10**9, (84, 84), 53)  # ~7 TB, refused before allocating anything


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_ring_samples_what_the_cpu_ring_samples():
    rng = np.random.default_rng(0)
    bufs = [FrameReplayBuffer(64, (H, W), 3, 2, 4, 3, device=d, seed=5) for d in ("cpu", "cuda")]
    for buf in bufs:
        buf.start_episode(_obs(np.random.default_rng(0), 0, 3))
    for t in range(150):
        obs, action, ended = _obs(rng, t + 1, 3), rng.uniform(-1, 1, 2), t % 11 == 10
        for buf in bufs:
            buf.add(action, 1.0, obs, ended, False)
            if ended:
                buf.start_episode(obs)
    cpu, cuda = bufs[0].sample(64), bufs[1].sample(64)
    assert cpu["obs_image"].is_pinned()
    for key in cpu:
        assert cuda[key].device.type == "cuda"
        assert torch.equal(cpu[key], cuda[key].cpu()), key
