"""How much each group's critic overestimates, from the tables scripts/value_bias.py wrote.

    python scripts/bias_table.py docs/results/value_bias_80k_tau.md                  # relative bias per group
    python scripts/bias_table.py A.md B.md --match 'tau02_main_seed*' 'tau02_ablation_single_critic_seed*' \
        --against tau02_ablation_single_critic     # how clearly the single critic's bias exceeds main's
    python scripts/bias_table.py docs/results/fresh_seed*/value_bias_160k.md docs/results/value_bias_160k.md \
        --as main 'tau02*_main_seed*' --as ddpg 'tau02*_ablation_ddpg_seed*' --against ddpg   # runs named apart, pooled
    python scripts/bias_table.py A.md B.md --two_by_two tau02_main tau02_ablation_ddpg tau02_ablation_no_layernorm \
        tau02_ablation_ddpg_no_layernorm --measures "TD3's fixes" LayerNorm   # each with the other kept and gone

A row's run is the folder its checkpoint lies in under the logs (`lightning_logs/NAME/version_0/checkpoints/...`);
runs are grouped by name with the `_seedN` suffix removed, as scripts/eval_table.py groups evaluations, or, with
`--as LABEL GLOB`, under LABEL when the name matches GLOB (runs of one config that were named apart). The value per
run is the table's relative bias (Q1 minus the discounted return that followed, over that return), in percent: the
absolute bias scales with how much a policy earns per step, and faster policies earn more. A run in two tables must
have the same row in both; rows whose measure failed (every episode time-limited) have no value and are left out.
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

import numpy as np

from lightning_td3.analysis import (
    add_confidence_option,
    add_two_by_two_options,
    comparison_table,
    format_mean_std,
    group_by_seed,
    two_by_two_from_args,
)

HEADER = "| checkpoint | critics |"


def read_biases(tables: list[str]) -> dict[str, float]:
    """Relative bias in percent by run name, from value_bias.py's markdown tables."""
    runs: dict[str, tuple[str, float]] = {}
    for table in tables:
        lines = Path(table).read_text().splitlines()
        if not any(line.startswith(HEADER) for line in lines):
            raise SystemExit(f"error: {table} is not a table of scripts/value_bias.py")
        for line in lines:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if line.startswith(HEADER) or len(cells) < 7 or not cells[6] or cells[0].startswith("---"):
                continue
            parts = Path(cells[0]).parts
            name = parts[-4] if len(parts) >= 4 and parts[-2] == "checkpoints" else Path(cells[0]).stem
            value = 100.0 * float(cells[6])
            seen = runs.setdefault(name, (table, value))
            if seen[1] != value:
                raise SystemExit(f"error: run {name} has a different bias in {seen[0]} and {table}")
    return {name: value for name, (_, value) in sorted(runs.items())}


def group_as(biases: dict[str, float], labels: list[tuple[str, str]]) -> dict[str, list[float]]:
    """Each run's bias under the label whose glob its name matches, labels in the order given; runs matching none
    are left out."""
    groups: dict[str, list[float]] = {label: [] for label, _ in labels}
    for name, value in biases.items():
        hits = [label for label, pattern in labels if fnmatch.fnmatchcase(name, pattern)]
        if len(set(hits)) > 1:
            raise SystemExit(f"error: run {name} matches more than one --as group: {', '.join(hits)}")
        if hits:
            groups[hits[0]].append(value)
    return {label: values for label, values in groups.items() if values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", metavar="value_bias.md")
    parser.add_argument("--against", help="compare this group's relative bias with every other group's")
    parser.add_argument("--match", nargs="+", metavar="GLOB", help="only the runs whose name or group matches a glob")
    parser.add_argument("--as", dest="labels", nargs=2, action="append", metavar=("LABEL", "GLOB"),
                        help="group the runs whose name matches GLOB under LABEL (repeatable; instead of --match)")
    add_confidence_option(parser)
    add_two_by_two_options(parser)
    args = parser.parse_args()
    missing = [table for table in args.tables if not Path(table).is_file()]
    if missing:
        raise SystemExit(f"error: no such table: {' '.join(missing)}")
    if args.match and args.labels:
        raise SystemExit("error: --as and --match both pick runs; give one")
    biases = read_biases(args.tables)
    groups = group_as(biases, args.labels) if args.labels else group_by_seed(biases.items(), args.match)
    if not groups:
        globs = args.match or [pattern for _, pattern in args.labels or []]
        which = f" match {' '.join(globs)}" if globs else ""
        raise SystemExit(f"error: no runs in {' '.join(args.tables)}{which}")
    if args.against and args.against not in groups:
        raise SystemExit(f"error: no runs of '{args.against}' (groups: {', '.join(groups)})")
    if two_by_two := two_by_two_from_args(args, groups, "relative bias %"):
        print("\n".join(two_by_two))
        return
    if args.against:
        print("\n".join(comparison_table(groups, args.against, "relative bias %", args.confidence)))
        return
    print("| critic of | runs | relative bias % | per run |\n|---|---:|---:|---|")
    for group, values in groups.items():
        per_run = ", ".join(f"{v:+.0f}" for v in values)
        print(f"| {group} | {len(values)} | {format_mean_std(np.mean(values), np.std(values))} | {per_run} |")


if __name__ == "__main__":
    main()
