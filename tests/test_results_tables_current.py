"""docs/RESULTS.md cites tables under docs/results/: they must be what scripts/make_tables.sh makes from the kept
evaluations, curves and critic-bias tables, so a table cannot silently go stale when runs are added."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "docs" / "results"


def made_files(folder: str, names: list[str]) -> list[str]:
    """What copytree leaves out: the tables and plots, but not value_bias.py's tables, which make_tables.sh reads."""
    return [name for name in names if name.endswith(".png") or (name.endswith(".md") and "value_bias" not in name)]


def test_committed_tables_are_what_make_tables_makes_from_the_kept_data(tmp_path):
    out = tmp_path / "results"
    shutil.copytree(RESULTS, out, ignore=made_files)
    made = subprocess.run(["bash", str(ROOT / "scripts" / "make_tables.sh"), str(out)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    tables = sorted(p.relative_to(out) for p in out.rglob("*.md"))
    assert len(tables) >= 12 and Path("traffic/traffic_80k.md") in tables
    assert Path("traffic_careful/traffic_careful_80k.md") in tables
    assert Path("traffic_smooth/traffic_smooth_80k.md") in tables
    assert Path("traffic_shift/traffic_shift_40k.md") in tables
    assert Path("traffic_heading_ablations/traffic_heading_ablations_60k.md") in tables
    assert Path("early_30k/early_30k.md") in tables
    assert Path("early_30k/early_30k_ddpg.md") in tables
    assert Path("no_stability/no_stability_80k.md") in tables
    assert Path("no_stability_fresh/no_stability_fresh_80k.md") in tables
    assert {Path(f"no_layernorm_fresh/no_layernorm_fresh_{k}.md") for k in ("80k", "120k", "160k")} <= set(tables)
    assert {Path(f"no_layernorm_seeds6to8/no_layernorm_seeds6to8_{k}.md") for k in ("80k", "160k")} <= set(tables)
    assert Path("no_delay_fresh/no_delay_fresh_80k.md") in tables
    assert Path("single_critic_fresh/single_critic_fresh_80k.md") in tables
    assert Path("ddpg_fresh/ddpg_fresh_80k.md") in tables
    assert Path("main_fresh/main_fresh_80k.md") in tables
    assert Path("one_update_per_step/one_update_per_step_40k.md") in tables
    assert Path("one_update_per_step_test/one_update_per_step_test_40k.md") in tables
    assert Path("one_update_per_step_fixed_time_test/one_update_per_step_fixed_time_test_40k.md") in tables
    assert Path("layernorm_and_td3_fixes_80k.md") in tables
    assert Path("reliability_80k.md") in tables
    assert Path("reliability_test/reliability_test_80k.md") in tables
    assert Path("nstep1_pilot/nstep1_pilot_80k.md") in tables
    for seed in (3, 4, 5, 6, 7, 8):
        assert {Path(f"fresh_seed{seed}/fresh_{k}.md") for k in ("80k", "160k")} <= set(tables)
    stale = [str(t) for t in tables if (out / t).read_text() != (RESULTS / t).read_text()]
    assert not stale, f"regenerate with: bash scripts/make_tables.sh  ({stale})"
