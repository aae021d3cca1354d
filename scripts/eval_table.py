"""Markdown table of the 10-episode evaluations written by scripts/reproduce_results.sh (docs/results/eval_*.json).

    python scripts/eval_table.py docs/results
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

COLUMNS = [("return", "return_mean"), ("success", "success_rate"), ("route completion", "route_completion_mean"),
           ("avg speed km/h", "avg_speed_kmh"), ("collisions/km", "collisions_per_km"),
           ("lane invasions/km", "lane_invasions_per_km"), ("episode length", "episode_length_mean")]  # fmt: skip


def main(folder: str) -> None:
    groups: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(Path(folder).glob("eval_*.json")):
        name = path.stem.removeprefix("eval_")
        groups[re.sub(r"_seed\d+$", "", name)].append(json.loads(path.read_text()))
    print("| policy | runs | " + " | ".join(label for label, _ in COLUMNS) + " |")
    print("|---|---:|" + "---:|" * len(COLUMNS))
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
        print(f"| {group} | {len(results)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/results")
