"""Keep runs' learning curves in the repository: lightning_logs/ is output and does not outlive a machine.

    python scripts/export_curves.py lightning_logs docs/results/curves --runs 'main_seed*' 'ablation_*'

Writes NAME.csv per run folder (its last version): every `eval/*` tag and `progress/env_steps` at those
steps, a few kB. `scripts/curve_table.py docs/results/curves ...` reads them as it reads the logs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lightning_td3.analysis import load_scalars, save_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs")
    parser.add_argument("out")
    parser.add_argument("--runs", nargs="+", default=["*"], help="folder-name globs under LOGS")
    args = parser.parse_args()
    folders = sorted({p for pattern in args.runs for p in Path(args.logs).glob(pattern) if p.is_dir()})
    runs = [(folder.name, sorted(folder.glob("version_*"))) for folder in folders]
    runs = [(name, versions[-1]) for name, versions in runs if versions]
    if not runs:
        raise SystemExit(f"error: no run folder under {args.logs} matches {args.runs}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name, run_dir in runs:
        try:
            rows = save_curves(load_scalars(run_dir), Path(args.out) / f"{name}.csv")
        except ValueError as err:
            raise SystemExit(f"error: {run_dir}: {err}") from None
        print(f"{name}: {rows} points")


if __name__ == "__main__":
    main()
