"""Keep runs' learning curves in the repository: lightning_logs/ is output and does not outlive a machine.

    python scripts/export_curves.py lightning_logs docs/results/curves --runs 'main_seed*' 'ablation_*'

Writes NAME.csv per run folder (its last version): every `eval/*` tag and `progress/env_steps` at those
steps, a few kB. `scripts/curve_table.py docs/results/curves ...` reads them as it reads the logs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lightning_td3.analysis import curves_csv, find_runs, load_scalars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs")
    parser.add_argument("out")
    parser.add_argument("--runs", nargs="+", default=["*"], help="folder-name globs under LOGS")
    args = parser.parse_args()
    runs = [(name, run) for name, run in find_runs(args.logs, args.runs) if run.is_dir()]
    if not runs:
        raise SystemExit(f"error: no run folder with logs under {args.logs} matches {args.runs}")
    texts = {}
    for name, run in runs:  # every run is read and checked before anything is written
        try:
            texts[name] = curves_csv(load_scalars(run))
        except ValueError as err:
            raise SystemExit(f"error: {run}: {err}") from None
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (Path(args.out) / f"{name}.csv").write_text(text)
        print(f"{name}: {len(text.splitlines()) - 1} points")


if __name__ == "__main__":
    main()
