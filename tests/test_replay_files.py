"""FrameReplayBuffer save/load and state dicts: exact resume, atomic files, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_td3.replay import FrameReplayBuffer, ReplayFileError, files

torch.set_num_threads(1)
H = W = 6
KWARGS = dict(frame_shape=(H, W), vector_dim=3, action_dim=2, frame_stack=4, n_step=3, gamma=0.9)


def _make(capacity: int = 30, seed: int = 7, **overrides) -> FrameReplayBuffer:
    return FrameReplayBuffer(capacity, **{**KWARGS, **overrides}, seed=seed, memory_check=False)


def _feed(buffers: list[FrameReplayBuffer], steps: int, rng: np.random.Generator) -> None:
    """The same env steps into every buffer; episodes of random length; the last one left running."""
    for _ in range(steps):
        if not buffers[0].in_episode:
            obs = {"image": rng.integers(0, 256, (1, H, W), np.uint8), "vector": rng.normal(size=3)}
            for buf in buffers:
                buf.start_episode(obs)
        obs = {"image": rng.integers(0, 256, (1, H, W), np.uint8), "vector": rng.normal(size=3)}
        action, reward, end = rng.uniform(-1, 1, 2), float(rng.normal()), rng.random() < 0.1
        terminated = bool(end and rng.random() < 0.5)
        for buf in buffers:
            buf.add(action, reward, obs, terminated, end and not terminated)


def _assert_same_samples(a: FrameReplayBuffer, b: FrameReplayBuffer, rounds: int = 3) -> None:
    for _ in range(rounds):
        x, y = a.sample(16), b.sample(16)
        for key in x:
            assert torch.equal(x[key], y[key]), key


@pytest.mark.parametrize("state_first", [True, False])
def test_round_trip_gives_identical_next_samples_and_continues(tmp_path, state_first):
    rng = np.random.default_rng(0)
    original = _make()
    _feed([original], 100, rng)  # wraps the 30-slot ring
    while not original.in_episode:
        _feed([original], 1, rng)  # save mid-episode: the episode must continue after load
    path = tmp_path / "replay.bin"
    original.save(path)
    state = original.state_dict()
    assert state["num_added"] == original.num_added >= 100 and state["in_episode"]

    restored = _make(seed=123)  # a different seed: the RNG must come from the state dict
    if state_first:
        restored.load_state_dict(state)
        restored.load(path)
    else:
        restored.load(path)
        restored.load_state_dict(state)
    assert len(restored) == len(original) and restored.num_added == original.num_added
    np.testing.assert_array_equal(restored.valid_indices(), original.valid_indices())
    _assert_same_samples(original, restored)
    _feed([original, restored], 40, np.random.default_rng(1))  # the running episode goes on in both
    _assert_same_samples(original, restored)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_partly_filled_ring_saves_only_written_rows(tmp_path):
    buf = _make(capacity=1000)
    _feed([buf], 80, np.random.default_rng(0))
    buf.save(tmp_path / "replay.bin")
    row = H * W + 4 * 3 + 4 * 2 + 4 + 1 + 1 + 4
    header = files.read_header(tmp_path / "replay.bin")
    assert {entry["shape"][0] for entry in header["arrays"]} == {buf._pos}
    assert sum(entry["nbytes"] for entry in header["arrays"]) == buf._pos * row
    assert (tmp_path / "replay.bin").stat().st_size < buf._pos * row + 4096  # not capacity * row


def test_save_replaces_an_existing_file_atomically(tmp_path):
    path = tmp_path / "replay.bin"
    buf = _make()
    _feed([buf], 20, np.random.default_rng(0))
    buf.save(path)
    _feed([buf], 20, np.random.default_rng(1))
    buf.save(path)
    fresh = _make()
    fresh.load(path)
    assert fresh.num_added == 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["replay.bin"]


def _saved(tmp_path) -> tuple[FrameReplayBuffer, object]:
    buf = _make()
    _feed([buf], 50, np.random.default_rng(0))
    path = tmp_path / "replay.bin"
    buf.save(path)
    return buf, path


def test_corrupt_bytes_are_detected_by_checksum(tmp_path):
    _, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # inside the frames array
    path.write_bytes(bytes(data))
    fresh = _make()
    with pytest.raises(ReplayFileError, match=r"replay\.bin is corrupt: checksum mismatch in array 'frames'"):
        fresh.load(path)
    assert len(fresh) == 0 and fresh.num_added == 0  # nothing half-loaded is sampleable


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated or corrupt"),
        (lambda b: b[:-3], "truncated or corrupt"),
        (lambda b: b"not a replay file at all, just some text" * 3, "is not a replay file"),
        (lambda b: b"", "is not a replay file"),
    ],
)
def test_truncated_or_foreign_files_raise_replay_file_error(tmp_path, damage, message):
    _, path = _saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ReplayFileError, match=message) as info:
        _make().load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_raises_replay_file_error(tmp_path):
    with pytest.raises(ReplayFileError, match=r"missing\.bin does not exist"):
        _make().load(tmp_path / "missing.bin")


def test_file_from_a_differently_shaped_buffer_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    with pytest.raises(ReplayFileError, match=r"does not fit this buffer: frame_shape \[6, 6\] != \[7, 7\]"):
        _make(frame_shape=(7, 7)).load(path)
    with pytest.raises(ReplayFileError, match="capacity 30 != 31, vector_dim 3 != 4"):
        _make(capacity=31, vector_dim=4).load(path)
    relaxed = _make(n_step=1, frame_stack=2, gamma=0.5)  # sampling options may change on resume
    relaxed.load(path)
    assert relaxed.sample(4)["obs_image"].shape == (4, 2, H, W)


def test_state_dict_checks_config_and_moment(tmp_path):
    buf, path = _saved(tmp_path)
    with pytest.raises(ValueError, match="replay state dict does not fit this buffer: action_dim 2 != 3"):
        _make(action_dim=3).load_state_dict(buf.state_dict())
    later = _make()
    _feed([later], 60, np.random.default_rng(0))
    stale = _make()
    stale.load_state_dict(later.state_dict())  # checkpoint from a later moment than the replay file
    with pytest.raises(ReplayFileError, match="come from different moments"):
        stale.load(path)
    loaded = _make()
    loaded.load(path)
    with pytest.raises(ValueError, match="come from different moments"):
        loaded.load_state_dict(later.state_dict())


def test_state_dict_is_small_and_torch_loadable(tmp_path):
    buf = _make(capacity=1000)
    _feed([buf], 500, np.random.default_rng(0))
    torch.save(buf.state_dict(), tmp_path / "state.pt")
    assert (tmp_path / "state.pt").stat().st_size < 4096
    state = torch.load(tmp_path / "state.pt", weights_only=True)  # how Lightning checkpoints load
    fresh = _make(capacity=1000)
    buf.save(tmp_path / "replay.bin")
    fresh.load(tmp_path / "replay.bin")
    fresh.load_state_dict(state)
    _assert_same_samples(buf, fresh)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_ring_round_trips_through_a_file_into_a_cpu_ring(tmp_path):
    on_gpu = _make(device="cuda")
    _feed([on_gpu], 100, np.random.default_rng(0))
    on_gpu.save(tmp_path / "replay.bin")
    on_cpu = _make(device="cpu")
    on_cpu.load(tmp_path / "replay.bin")
    on_cpu.load_state_dict(on_gpu.state_dict())
    for _ in range(3):
        x, y = on_gpu.sample(16), on_cpu.sample(16)
        assert all(torch.equal(x[k].cpu(), y[k]) for k in x)
