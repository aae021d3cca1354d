"""DDP through Lightning on CPU (gloo, 2 ranks, `ddp` = one subprocess per rank): every rank its own env,
seeds and replay; gradients all-reduced (parameters identical on both ranks); checkpoints written by rank 0
with every rank's data state and a replay sidecar per rank; resume on the same world size only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")
pytestmark = pytest.mark.slow


def run_cli(cwd: Path, *args: str, devices: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SDL_VIDEODRIVER": "offscreen", "OMP_NUM_THREADS": "1"}
    ddp = ["--trainer.strategy", "ddp", "--trainer.accelerator", "cpu"] if devices > 1 else []
    command = [sys.executable, "-m", "lightning_td3", "fit", "--config", SMOKE, "--trainer.enable_progress_bar",
               "false", "--trainer.logger.init_args.name", "ddp", "--trainer.devices", str(devices), *ddp, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=150)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    """A 2-rank smoke fit: 60 env steps per rank, checkpoints at 50 and 60."""
    cwd = tmp_path_factory.mktemp("ddp")
    out = run_cli(cwd, "--data.max_env_steps", "60")
    assert out.returncode == 0, out.stderr[-3000:]
    return cwd


def ckpt_dir(cwd: Path) -> Path:
    return cwd / "lightning_logs" / "ddp" / "version_0" / "checkpoints"


def test_ranks_hold_identical_parameters_and_their_own_rollouts(ddp_run):
    folder = ckpt_dir(ddp_run)
    for steps in (50, 60):
        assert (folder / f"env_steps={steps}.replay").exists() and (folder / f"env_steps={steps}.rank1.replay").exists()
    early = torch.load(folder / "env_steps=50.ckpt", weights_only=True)["TD3DataModule"]
    final = torch.load(folder / "env_steps=60.ckpt", weights_only=True)
    data = final["TD3DataModule"]
    assert data["world_size"] == 2 and final["td3_counters"]["updates"] == 20
    digests = data["param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]  # gradients were all-reduced
    assert early["param_digests"][0] == early["param_digests"][1] != digests[0]  # ... and the updates moved them
    ranks = data["ranks"]
    assert [r["replay_sidecar"] for r in ranks] == ["env_steps=60.replay", "env_steps=60.rank1.replay"]
    assert [r["worker"]["env_steps"] for r in ranks] == [60, 60]
    assert ranks[0]["worker"]["rng"] != ranks[1]["worker"]["rng"]  # seeds offset by rank
    assert ranks[0]["worker"]["env_rng"] != ranks[1]["worker"]["env_rng"]


def test_resume_on_the_same_world_size(ddp_run):
    out = run_cli(ddp_run, "--data.max_env_steps", "80", "--ckpt_path", "last")
    assert out.returncode == 0, out.stderr[-3000:]
    final = torch.load(ckpt_dir(ddp_run) / "env_steps=80.ckpt", weights_only=True)
    data = final["TD3DataModule"]
    assert final["td3_counters"]["updates"] == 40
    assert [r["worker"]["env_steps"] for r in data["ranks"]] == [80, 80]
    assert data["param_digests"][0] == data["param_digests"][1]
    assert not (ddp_run / "lightning_logs" / "ddp" / "version_1").exists()


def test_resume_on_another_world_size_is_a_one_line_error(ddp_run):
    ckpt = str(ckpt_dir(ddp_run) / "env_steps=60.ckpt")
    out = run_cli(ddp_run, "--data.max_env_steps", "100", "--ckpt_path", ckpt, devices=1)
    assert out.returncode == 2, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("lightning-td3: error:")]
    assert len(errors) == 1 and "written by 2 DDP rank(s) and this run has 1" in errors[0], out.stderr[-2000:]


def test_ddp_with_a_rollout_worker_per_rank(tmp_path):
    out = run_cli(tmp_path, "--data.max_env_steps", "60", "--data.rollout_workers", "1", "--data.rate_tolerance", "4",
                  "--data.weight_sync_every", "5", "--data.eval_episodes", "0",
                  "--checkpoint.every_n_env_steps", "1000")  # only the final checkpoint  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    folder = ckpt_dir(tmp_path)
    assert (folder / "env_steps=60.w0.replay").exists() and (folder / "env_steps=60.rank1.w0.replay").exists()
    data = torch.load(folder / "env_steps=60.ckpt", weights_only=True)["TD3DataModule"]
    assert data["param_digests"][0] == data["param_digests"][1]
    for rank in data["ranks"]:
        (worker,) = rank["worker"]["workers"]
        assert rank["worker"]["env_steps"] == worker["inserted"] == 60 and worker["version"] >= 5
