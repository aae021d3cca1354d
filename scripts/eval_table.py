"""Markdown tables of the 10-episode evaluations written by scripts/reproduce_results.sh (docs/results/eval_*.json).

    python scripts/eval_table.py docs/results                  # every policy, mean ± std over runs
    python scripts/eval_table.py docs/results --against main   # how clearly `main` beats each of the others

Files are grouped by name with the `_seedN` suffix removed; a group's runs are its seeds.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from lightning_td3.analysis import comparison_table

COLUMNS = [("return", "return_mean"), ("success", "success_rate"), ("route completion", "route_completion_mean"),
           ("avg speed km/h", "avg_speed_kmh"), ("collisions/km", "collisions_per_km"),
           ("lane invasions/km", "lane_invasions_per_km"), ("episode length", "episode_length_mean")]  # fmt: skip


def load_groups(folder: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(Path(folder).glob("eval_*.json")):
        name = path.stem.removeprefix("eval_")
        groups[re.sub(r"_seed\d+$", "", name)].append(json.loads(path.read_text()))
    return dict(groups)


def metrics_table(groups: dict[str, list[dict]]) -> list[str]:
    lines = ["| policy | runs | " + " | ".join(label for label, _ in COLUMNS) + " |",
             "|---|---:|" + "---:|" * len(COLUMNS)]  # fmt: skip
    for group, results in groups.items():
        cells = []
        for _, key in COLUMNS:
            values = np.array([r[key] for r in results], dtype=float)
            if len(values) > 1:
                cells.append(f"{values.mean():.3g} ± {values.std():.2g}")
            elif key == "return_mean":
                cells.append(f"{values[0]:.0f} ± {results[0]['return_std']:.0f} (episodes)")
            else:
                cells.append(f"{values[0]:.3g}")
        lines.append(f"| {group} | {len(results)} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="docs/results")
    parser.add_argument("--against", help="compare this group's eval return with every other group's")
    args = parser.parse_args()
    groups = load_groups(args.folder)
    if args.against and args.against not in groups:
        raise SystemExit(f"error: no evaluations of '{args.against}' (groups: {', '.join(groups)})")
    returns = {group: [r["return_mean"] for r in results] for group, results in groups.items()}
    print("\n".join(comparison_table(returns, args.against) if args.against else metrics_table(groups)))


if __name__ == "__main__":
    main()
