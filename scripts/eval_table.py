"""Markdown tables of the 10-episode evaluations written by scripts/reproduce_results.sh (docs/results/eval_*.json).

    python scripts/eval_table.py docs/results                  # every policy, mean ± std over runs
    python scripts/eval_table.py docs/results --against main   # how clearly `main` beats each of the others
    python scripts/eval_table.py docs/results --against main --metric avg_speed_kmh   # ... on another metric
    python scripts/eval_table.py docs/results --pool 78k 80k   # also each run's last two checkpoints as one
    python scripts/eval_table.py docs/results --pool 78k 80k --pool 158k 160k --per_seed --match '*_ddpg_seed*'
    python scripts/eval_table.py docs/results/traffic docs/results/traffic_smooth   # the runs of both folders
    python scripts/eval_table.py docs/results/pace/fixed_time --reasons   # and how the episodes ended
    python scripts/eval_table.py docs/results --pool 78k 80k --two_by_two 78k+80k_tau02_main \
        78k+80k_tau02_ablation_ddpg 78k+80k_tau02_ablation_no_layernorm 78k+80k_tau02_ablation_ddpg_no_layernorm \
        --measures "TD3's fixes" LayerNorm   # what each changes with the other kept and gone

Files are grouped by name with the `_seedN` suffix removed; a group's runs are its seeds. `--pool A B` adds, for
every run evaluated as both `A_NAME` and `B_NAME`, a run `A+B_NAME` holding all of their episodes: one checkpoint
is a snapshot, and neighbouring checkpoints of the same run can differ by hundreds of return. `--pool` may be
given more than once. `--per_seed` keeps every run its own row (how each run changed between two budgets), and
`--match` keeps only the runs whose name, or whose group's name, matches one of its globs
(`'80k_main_seed[3-5]'` picks seeds). Several folders are read as one; a file in more
than one of them (the baselines of one env) must be the same in each.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from lightning_td3.analysis import (
    add_confidence_option,
    add_two_by_two_options,
    comparison_table,
    format_mean_std,
    format_value,
    group_by_seed,
    two_by_two_from_args,
)

COLUMNS = [("return", "return_mean"), ("success", "success_rate"), ("route completion", "route_completion_mean"),
           ("avg speed km/h", "avg_speed_kmh"), ("collisions/km", "collisions_per_km"),
           ("lane invasions/km", "lane_invasions_per_km"), ("episode length", "episode_length_mean")]  # fmt: skip


PER_KM = ("collisions_per_km", "lane_invasions_per_km")
DECIMALS = {"return_mean": 0, "avg_speed_kmh": 1, "episode_length_mean": 0}  # --against's; 2 for the rest


def count_endings(results: list[dict]) -> Counter:
    """Episodes per termination reason over several evaluations (a run's checkpoints, or a group's runs)."""
    return sum((Counter(r["termination_reasons"]) for r in results), Counter())


def pool(results: list[dict]) -> dict:
    """One evaluation holding every episode of `results` (evaluations of checkpoints of one run)."""
    n = np.array([r["episodes"] for r in results], dtype=float)
    km = n * np.array([r["distance_mean"] for r in results]) / 1000.0
    means = np.array([r["return_mean"] for r in results])
    pooled = {"episodes": int(n.sum()), "return_mean": float(np.average(means, weights=n))}
    spread = np.array([r["return_std"] for r in results]) ** 2 + (means - pooled["return_mean"]) ** 2
    pooled["return_std"] = float(np.sqrt(np.average(spread, weights=n)))
    for _, key in COLUMNS:
        if key in PER_KM:
            pooled[key] = float((np.array([r[key] for r in results]) * km).sum() / km.sum())
        elif key not in pooled:
            pooled[key] = float(np.average([r[key] for r in results], weights=n))
    pooled["distance_mean"] = float(km.sum() * 1000.0 / n.sum())
    if all("termination_reasons" in r for r in results):
        pooled["termination_reasons"] = dict(count_endings(results))
    return pooled


def load_evaluations(folders: list[str]) -> dict[str, dict]:
    """Every eval_*.json of `folders` by name, in name order; the same name twice must be the same evaluation."""
    first: dict[str, tuple[Path, dict]] = {}
    for path in (path for folder in folders for path in Path(folder).glob("eval_*.json")):
        result = json.loads(path.read_text())
        seen, kept = first.setdefault(path.name, (path, result))
        if kept != result:
            raise SystemExit(f"error: {path.name} differs between {seen.parent} and {path.parent}")
    return {path.stem.removeprefix("eval_"): result for path, result in (first[name] for name in sorted(first))}


def load_groups(folders: list[str], pools: list[list[str]] | None = None, per_seed: bool = False,
                match: list[str] | None = None) -> dict[str, list[dict]]:
    runs = load_evaluations(folders)
    for pool_prefixes in pools or []:
        first, *rest = pool_prefixes
        for name in [n.removeprefix(f"{first}_") for n in runs if n.startswith(f"{first}_")]:
            if all(f"{p}_{name}" in runs for p in rest):
                runs[f"{'+'.join(pool_prefixes)}_{name}"] = pool([runs[f"{p}_{name}"] for p in pool_prefixes])
    return group_by_seed(runs.items(), match, per_seed)


def ended_by(results: list[dict]) -> str:
    """How the group's episodes ended, summed over its runs: 'off_road 3, time_limit 17'."""
    counts = count_endings(results)
    return ", ".join(f"{reason} {counts[reason]}" for reason in sorted(counts))


def metrics_table(groups: dict[str, list[dict]], reasons: bool = False) -> list[str]:
    labels = [label for label, _ in COLUMNS] + (["ended by"] if reasons else [])
    lines = ["| policy | runs | " + " | ".join(labels) + " |",
             "|---|---:|" + "---:|" * len(COLUMNS) + ("---|" if reasons else "")]  # fmt: skip
    for group, results in groups.items():
        cells = []
        for _, key in COLUMNS:
            values = np.array([r[key] for r in results], dtype=float)
            if len(values) > 1:
                cells.append(format_mean_std(values.mean(), values.std()))
            elif key == "return_mean":
                cells.append(f"{values[0]:.0f} ± {results[0]['return_std']:.0f} (episodes)")
            else:
                cells.append(format_value(values[0]))
        if reasons:
            cells.append(ended_by(results))
        lines.append(f"| {group} | {len(results)} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=["docs/results"], metavar="folder")
    parser.add_argument("--against", help="compare this group with every other group (on --metric, default the return)")
    parser.add_argument("--metric", choices=[key for _, key in COLUMNS], default=None,
                        help="what --against compares (default the return; the return of a lap rewards slow laps)")
    parser.add_argument("--pool", nargs="+", action="append", metavar="PREFIX",
                        help="pool each run's evaluations under these prefixes (repeatable)")
    parser.add_argument("--per_seed", action="store_true", help="one row per run instead of one per group of seeds")
    parser.add_argument("--match", nargs="+", metavar="GLOB",
                        help="only the runs whose name or group name matches a glob")
    parser.add_argument("--reasons", action="store_true",
                        help="add how the episodes ended (the only failure count of a fixed-time evaluation)")
    add_confidence_option(parser)
    add_two_by_two_options(parser)
    args = parser.parse_args()
    if any(len(prefixes) < 2 for prefixes in args.pool or []):
        raise SystemExit("error: --pool needs at least two prefixes, e.g. --pool 78k 80k")
    if args.metric and not (args.against or args.two_by_two):
        raise SystemExit("error: --metric goes with --against or --two_by_two (alone, the table has every metric)")
    args.metric = args.metric or "return_mean"
    groups = load_groups(args.folders, args.pool, args.per_seed, args.match)
    if not groups:
        which = f" match {' '.join(args.match)}" if args.match else ""
        raise SystemExit(f"error: no evaluations under {' '.join(args.folders)}{which}")
    if args.against and args.against not in groups:
        raise SystemExit(f"error: no evaluations of '{args.against}' (groups: {', '.join(groups)})")
    if args.reasons and (lacking := [name for name, results in groups.items()
                                     if any("termination_reasons" not in r for r in results)]):  # fmt: skip
        raise SystemExit(f"error: --reasons needs how every episode ended; {lacking[0]} was evaluated without it")
    values = {group: [r[args.metric] for r in results] for group, results in groups.items()}
    label = next(label for label, key in COLUMNS if key == args.metric)
    if two_by_two := two_by_two_from_args(args, values, label, DECIMALS.get(args.metric, 2)):
        print("\n".join(two_by_two))
    elif args.against:
        print("\n".join(comparison_table(values, args.against, label, args.confidence, DECIMALS.get(args.metric, 2))))
    else:
        print("\n".join(metrics_table(groups, args.reasons)))


if __name__ == "__main__":
    main()
