"""Which checkpoint files EnvStepCheckpoint keeps: the last K, and with keep_every the budgets' policies."""

from __future__ import annotations

import pytest

from lightning_td3.callbacks.checkpoint import EnvStepCheckpoint


def _save(folder, steps):
    for name in (f"env_steps={steps}.ckpt", f"env_steps={steps}.replay", f"env_steps={steps}.rank1.replay"):
        (folder / name).write_bytes(b"x")


def _kept(folder):
    return sorted((p.name for p in folder.iterdir()), key=lambda name: (int(name.split("=")[1].split(".")[0]), name))


def test_keep_last_alone_keeps_only_the_newest_checkpoints_and_their_replays(tmp_path):
    callback = EnvStepCheckpoint(every_n_env_steps=2000, keep_last=2)
    for steps in range(2000, 10001, 2000):
        _save(tmp_path, steps)
        callback._prune(tmp_path)
    assert _kept(tmp_path) == [f"env_steps={s}.{ext}" for s in (8000, 10000) for ext in ("ckpt", "rank1.replay",
                                                                                          "replay")]  # fmt: skip


def test_keep_every_keeps_the_first_checkpoint_at_or_past_each_multiple_without_its_replay(tmp_path):
    callback = EnvStepCheckpoint(every_n_env_steps=2000, keep_last=2, keep_every=4000)
    # saves a little past the cadence (rollout workers overshoot it): 4001 and 8003 are the first past 4k and 8k
    for steps in (2001, 4001, 6002, 8003, 10004, 12005):
        _save(tmp_path, steps)
        callback._prune(tmp_path)
    assert _kept(tmp_path) == [
        "env_steps=4001.ckpt", "env_steps=8003.ckpt",  # the budgets' policies, for evaluation
        "env_steps=10004.ckpt", "env_steps=10004.rank1.replay", "env_steps=10004.replay",
        "env_steps=12005.ckpt", "env_steps=12005.rank1.replay", "env_steps=12005.replay",
    ]  # fmt: skip
    # a new callback (a resumed run) reads the same milestones from the files and keeps them
    resumed = EnvStepCheckpoint(every_n_env_steps=2000, keep_last=2, keep_every=4000)
    for steps in (14006, 16007):
        _save(tmp_path, steps)
        resumed._prune(tmp_path)
    assert [n for n in _kept(tmp_path) if n.endswith(".ckpt")] == [
        "env_steps=4001.ckpt", "env_steps=8003.ckpt", "env_steps=12005.ckpt", "env_steps=14006.ckpt",
        "env_steps=16007.ckpt",
    ]  # fmt: skip
    assert not (tmp_path / "env_steps=12005.replay").exists()


def test_keep_every_must_be_positive():
    with pytest.raises(ValueError, match="keep_every must be >= 1 env steps, got 0"):
        EnvStepCheckpoint(keep_every=0)
