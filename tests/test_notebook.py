"""The training-report notebook executes headless on the logs of a smoke run."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_training_report_runs_on_smoke_logs(tmp_path, monkeypatch):
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen"}
    for seed in (0, 1):
        out = subprocess.run(
            [sys.executable, "-m", "lightning_td3", "fit", "--config", str(ROOT / "configs/smoke.yaml"),
             "--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.name", f"smoke_seed{seed}",
             "--seed_everything", str(seed)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
    monkeypatch.setenv("TRAINING_REPORT_LOGS", str(tmp_path / "lightning_logs"))
    monkeypatch.setenv("TRAINING_REPORT_OUT", str(tmp_path / "report"))
    monkeypatch.setenv("TRAINING_REPORT_STEADY_FROM", "0")
    nb = nbformat.read(ROOT / "notebooks" / "training_report.ipynb", as_version=4)
    resources = {"metadata": {"path": str(ROOT / "notebooks")}}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources=resources).execute()
    report = tmp_path / "report"
    for png in ("eval.png", "feature_norms.png", "grad_norms.png", "losses.png", "reward_shares.png"):
        assert (report / png).stat().st_size > 5000, png
    table = (report / "final_metrics.md").read_text()
    assert "smoke" in table and "±" in table
    budget = (report / "budget_metrics.md").read_text()
    assert budget.startswith("at ") and "smoke" in budget
    validation = (report / "validation.md").read_text()
    assert "encoder feature L2 within" in validation and "zero feature-norm and gradient alerts" in validation
    assert "to return 500" in (report / "learning_speed.md").read_text()
    steady = (report / "steadiness.md").read_text()
    assert steady.startswith("eval return after 0 up to ") and "largest drawdown" in steady
    # both runs counted; a smoke run evaluates once, too few for a change (the measures: tests/test_analysis.py)
    assert re.search(r"\| smoke +\| +2 \| nan ± nan", steady), steady
    assert "2 runs in" in "".join(o.get("text", "") for o in nb.cells[1].outputs)

    # the same report from the kept curves once the logs are gone: the eval plot and tables, no validation
    curves = tmp_path / "curves"
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "export_curves.py"), str(tmp_path / "lightning_logs"),
                          str(curves)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    monkeypatch.setenv("TRAINING_REPORT_LOGS", str(curves))
    monkeypatch.setenv("TRAINING_REPORT_OUT", str(tmp_path / "from_curves"))
    nb = nbformat.read(ROOT / "notebooks" / "training_report.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources=resources).execute()
    kept = tmp_path / "from_curves"
    assert (kept / "eval.png").stat().st_size > 5000
    assert sorted(p.name for p in kept.glob("*.png")) == ["eval.png"]  # no empty debug plots
    assert not (kept / "validation.md").exists()
    assert "smoke " in (kept / "final_metrics.md").read_text() and "smoke" in (kept / "learning_speed.md").read_text()
    assert "2 runs in" in "".join(o.get("text", "") for o in nb.cells[1].outputs)
