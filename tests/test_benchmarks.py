"""benchmarks/learner.py runs end to end on a tiny budget and reports each side, ratios and failures."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import learner  # noqa: E402


def run_learner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks/learner.py"), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)  # fmt: skip


def test_learner_reports_ours_and_sb3_with_ratios():
    out = run_learner("--batches", "8", "--updates", "2", "--warmup", "1", "--repeats", "1", "--encoders", "shared",
                      "--transitions", "1010", "--variants", "default", "plain")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {m.group(1): m for m in re.finditer(r"shared\s+8\s+(ours default|ours plain|SB3)\s+([\d.]+)", out.stdout)}
    assert set(rows) == {"ours default", "ours plain", "SB3"}, out.stdout
    assert all(float(m.group(2)) > 0 for m in rows.values())
    assert re.search(r"ours default\s+[\d.]+\s+[\d.]+", out.stdout)  # a ratio against SB3 follows the rate


def test_cuda_only_variants_are_refused_on_cpu():
    out = run_learner("--variants", "graphed", "bf16")
    assert out.returncode == 2
    assert "--variants bf16 graphed need --device cuda" in out.stderr


def test_a_failing_side_is_reported_and_the_others_still_run():
    def broken() -> float:
        raise RuntimeError("capture failed\nsecond line")

    rates, failures = learner.interleaved({"ours": lambda: 2.0, "broken": broken, "SB3": lambda: 1.0}, repeats=3)
    assert rates == {"ours": [2.0, 2.0, 2.0], "broken": [], "SB3": [1.0, 1.0, 1.0]}
    assert failures == {"broken": "RuntimeError: capture failed"}


@pytest.mark.parametrize("variant", ["graphed", "graphed_bf16", "bf16"])
def test_cuda_variants_use_the_fast_paths_they_name(variant):
    kwargs = learner.VARIANTS[variant]
    assert kwargs.get("cuda_graph", False) == variant.startswith("graphed")
    assert learner.PRECISION.get(variant, "32-true") == ("bf16-mixed" if "bf16" in variant else "32-true")
