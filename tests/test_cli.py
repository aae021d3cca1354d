"""The `lightning-td3` command end to end, in subprocesses, on configs/smoke.yaml."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")
pytestmark = pytest.mark.slow


def run_cli(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SDL_VIDEODRIVER": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "lightning_td3", *args], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=timeout,
    )


def fit_args(name: str, *extra: str) -> list[str]:
    return ["fit", "--config", SMOKE, "--trainer.enable_progress_bar", "false",
            "--trainer.logger.init_args.name", name, *extra]


def scalar_tags(run_dir: Path) -> set[str]:
    tags: set[str] = set()
    for f in run_dir.glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(f))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    return tags


def test_smoke_fit_writes_checkpoints_and_all_tag_families(tmp_path):
    out = run_cli(tmp_path, *fit_args("smoke"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "has `__len__` defined" not in out.stderr  # the stream's length is deliberate (no prefetch)
    run = tmp_path / "lightning_logs" / "smoke" / "version_0"
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["env_steps=100.ckpt", "env_steps=100.replay", "env_steps=50.ckpt", "env_steps=50.replay",
                     "last.ckpt"]
    tags = scalar_tags(run)
    for family in ("train/", "debug/", "gradients/", "eval/", "rewards/", "alerts/"):
        assert any(t.startswith(family) for t in tags), (family, sorted(tags))
    for tag in ("train/critic_loss", "train/actor_loss", "train/episode_return", "eval/return_mean",
                "eval/success_rate", "eval/collisions_per_km", "debug/critic_cnn_feature_l2_norm",
                "gradients/critic_cnn_norm_before_clip"):
        assert tag in tags
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["TD3DataModule"]["worker"]["env_steps"] == 100
    assert ckpt["TD3DataModule"]["replay_sidecar"] == "env_steps=100.replay"

    # validate a saved checkpoint: the eval metrics are printed
    val = run_cli(tmp_path, "validate", "--config", SMOKE, "--ckpt_path", str(run / "checkpoints" / "last.ckpt"))
    assert val.returncode == 0, val.stderr[-3000:]
    for metric in ("eval/return_mean", "eval/success_rate", "eval/route_completion", "eval/avg_speed"):
        assert metric in val.stdout


def _final_state(path: Path) -> tuple[dict, dict]:
    ckpt = torch.load(path, weights_only=False)
    return ckpt["state_dict"], ckpt["TD3DataModule"]["worker"]


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    common = ["--trainer.deterministic", "true", "--data.max_env_steps", "120", "--checkpoint.every_n_env_steps", "60"]
    straight = run_cli(tmp_path, *fit_args("straight", *common))
    assert straight.returncode == 0, straight.stderr[-3000:]

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SDL_VIDEODRIVER": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "lightning_td3", *fit_args("killed", *common)], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt_dir = tmp_path / "lightning_logs" / "killed" / "version_0" / "checkpoints"
    deadline = time.time() + 240
    while not (ckpt_dir / "last.ckpt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (ckpt_dir / "env_steps=60.ckpt").exists()

    resumed = run_cli(tmp_path, *fit_args("killed", *common, "--ckpt_path", str(ckpt_dir / "env_steps=60.ckpt")))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a_params, a_worker = _final_state(tmp_path / "lightning_logs/straight/version_0/checkpoints/env_steps=120.ckpt")
    b_params, b_worker = _final_state(ckpt_dir / "env_steps=120.ckpt")
    assert a_params.keys() == b_params.keys()
    for key in a_params:
        torch.testing.assert_close(a_params[key], b_params[key], rtol=0, atol=0, msg=key)
    for key in ("env_steps", "episodes", "episode", "rng"):
        assert a_worker[key] == b_worker[key], key
    # the stream resumes exactly (above), so Lightning's mid-epoch "dataloader is not resumable" caution is silenced
    assert "Restored all states" in resumed.stderr and "not resumable" not in resumed.stderr
    # the resumed run keeps logging into the run it resumed
    assert not (tmp_path / "lightning_logs" / "killed" / "version_1").exists()


def test_resume_with_last_finds_the_newest_run(tmp_path):
    # keep only the last checkpoint, plus the first at or past each multiple of 50 env steps (for evaluation)
    keep = ["--checkpoint.keep_last", "1", "--checkpoint.keep_every", "50"]
    first = run_cli(tmp_path, *fit_args("again", "--data.max_env_steps", "60", *keep))
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli(tmp_path, *fit_args("again", "--data.max_env_steps", "100", "--ckpt_path", "last", *keep))
    assert second.returncode == 0, second.stderr[-3000:]
    ckpt_dir = tmp_path / "lightning_logs/again/version_0/checkpoints"
    _, worker = _final_state(ckpt_dir / "last.ckpt")
    assert worker["env_steps"] == 100
    # 50 kept through the resume without its replay; 60 (the first run's end) pruned once 100 was written
    assert sorted(p.name for p in ckpt_dir.iterdir()) == [
        "env_steps=100.ckpt", "env_steps=100.replay", "env_steps=50.ckpt", "last.ckpt"]  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model.polcy_delay", "3"], "unrecognized arguments: --model.polcy_delay"),
        (["--data.batch_size", "abc"], 'Parser key "data.batch_size"'),
        (["--data.batch_size", "0"], "batch_size must be >= 1, got 0"),
        (["--checkpoint.keep_every", "0"], "keep_every must be >= 1 env steps, got 0"),
        (["--data.learning_starts", "500"], "learning_starts (500) must be <= max_env_steps (100)"),
        (["--data.env_kwargs", "{bogus: 1}"], "unexpected keyword argument 'bogus'"),
        (["--model.tau", "0"], "tau must be in (0, 1]"),
        (["--ckpt_path", "missing.ckpt"], "checkpoint not found: missing.ckpt"),
        (["--model.cuda_graph", "true"], "cuda_graph needs the module on a CUDA device; it is on cpu"),
        (["--model.layer_norm", "conv"], 'Parser key "model.layer_norm"'),
        (["--model.layer_norm", "false", "--model.layer_norm_gain", "0.1"], "needs a feature LayerNorm"),
        pytest.param(["--trainer.accelerator", "gpu"], "No supported gpu backend found",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")),
    ],
)
def test_bad_input_is_one_line_error_and_nothing_written(tmp_path, args, message):
    out = run_cli(tmp_path, *fit_args("bad", *args), timeout=120)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and message in errors[0], out.stderr[-2000:]
    assert not (tmp_path / "lightning_logs").exists()


def test_corrupted_replay_sidecar_is_a_clear_error_unless_allowed(tmp_path):
    first = run_cli(tmp_path, *fit_args("corrupt", "--data.max_env_steps", "60"))
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt_dir = tmp_path / "lightning_logs/corrupt/version_0/checkpoints"
    sidecar = ckpt_dir / "env_steps=60.replay"
    data = bytearray(sidecar.read_bytes())
    data[len(data) // 2] ^= 0xFF
    sidecar.write_bytes(bytes(data))
    ckpt = str(ckpt_dir / "env_steps=60.ckpt")
    out = run_cli(tmp_path, *fit_args("corrupt", "--data.max_env_steps", "100", "--ckpt_path", ckpt))
    assert out.returncode == 2
    assert "lightning-td3: error: cannot restore the replay from" in out.stderr
    assert "allow_empty_replay_on_resume" in out.stderr
    ok = run_cli(tmp_path, *fit_args("corrupt", "--data.max_env_steps", "100", "--ckpt_path", ckpt,
                                     "--data.allow_empty_replay_on_resume", "true"))
    assert ok.returncode == 0, ok.stderr[-3000:]


def test_monitor_halts_a_run_whose_encoder_produces_nan(tmp_path):
    # a huge CNN learning rate without LayerNorm or clipping drives the encoder to NaN within a few updates
    out = run_cli(tmp_path, *fit_args("nan", "--model.layer_norm", "false", "--model.critic_cnn_lr", "1e12",
                                      "--model.critic_cnn_max_norm", "null", "--model.actor_cnn_lr", "1e12",
                                      "--model.actor_cnn_max_norm", "null", "--feature_monitor.every_n_updates", "1",
                                      "--feature_monitor.critical_threshold", "1e30"))
    assert out.returncode == 3, out.stderr[-3000:]
    assert "NaN/Inf features" in out.stderr and "training halted" in out.stderr
