"""docs/RESULTS.md cites tables under docs/results/: they must be what scripts/make_tables.sh makes from the kept
evaluations and curves, so a table cannot silently go stale when runs are added."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "docs" / "results"


def test_committed_tables_are_what_make_tables_makes_from_the_kept_data(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    for f in RESULTS.glob("eval_*.json"):
        shutil.copy(f, out)
    shutil.copytree(RESULTS / "curves", out / "curves")
    made = subprocess.run(["bash", str(ROOT / "scripts" / "make_tables.sh"), str(out)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    tables = sorted(out.glob("*.md"))
    assert len(tables) >= 10
    stale = [t.name for t in tables if t.read_text() != (RESULTS / t.name).read_text()]
    assert not stale, f"regenerate with: bash scripts/make_tables.sh  ({stale})"
