"""Learning-curve table of in-training evaluations: speed and stability, not only the last checkpoint.

    python scripts/curve_table.py lightning_logs --budget 40000 [--runs 'main_seed*' 'ablation_*']
    python scripts/curve_table.py lightning_logs --budget 80000 --against main   # second halves compared
    python scripts/curve_table.py lightning_logs --budget 80000 --against main --window all  # whole curves
    python scripts/curve_table.py docs/results/curves --budget 80000               # kept curves (export_curves.py)
    python scripts/curve_table.py docs/results/curves docs/results/early_30k/curves --budget 30000  # runs of both
    python scripts/curve_table.py lightning_logs --budget 160000 --learning_starts 40000 --collapse_below 0
    python scripts/curve_table.py docs/results/curves --budget 80000 --two_by_two tau02_main tau02_ablation_ddpg \
        tau02_ablation_no_layernorm tau02_ablation_ddpg_no_layernorm --measures "TD3's fixes" LayerNorm
    python scripts/curve_table.py docs/results/curves --budget 80000 --reliability      # how unsteady each curve is
    python scripts/curve_table.py docs/results/curves --budget 80000 --against tau02_main --metric max_drawdown

Per group of runs (folder name without `_seedN`), mean ± std over its runs of: the mean eval return
over (learning starts, budget] (the area under the learning curve), the same over the second half, the
env steps to a return of 500, and how many second-half evaluations fell below 1000. With --against, the
second-half means (or with --window all, the whole-curve means: speed and final level in one number) of
each group against the named one's: difference, bootstrap interval and P(improvement); --two_by_two reads the same
means as a 2x2 design of two measures (what each changes with the other kept and gone). With --collapse_below,
how many runs of each group had an evaluation below that return in (learning starts, budget], with an exact
interval of the rate: how often a config collapses, which a mean over few seeds hides. With --reliability,
each run's curve over --window read by Chan et al.'s within-run reliability measures (`curve_reliability`: the
spread of eval-to-eval changes, the worst of them, the largest drawdown), mean ± std per group; --metric picks one
of them for --against and --two_by_two instead of the mean return.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from lightning_td3.analysis import (
    RELIABILITY,
    add_confidence_option,
    add_two_by_two_options,
    clopper_pearson,
    comparison_table,
    curve_reliability,
    env_steps_to_reach,
    find_runs,
    load_scalars,
    mean_between,
    mean_std,
    seed_group,
    series_between,
    two_by_two_from_args,
)

TAG = "eval/return_mean"
Scalars = dict[str, tuple[np.ndarray, np.ndarray]]


def run_row(scalars: Scalars, budget: float, learning_starts: float) -> list[float]:
    half = (learning_starts + budget) / 2
    second_half = series_between(scalars, TAG, half, budget)
    dips = float("nan") if second_half is None else float((second_half[1] < 1000).sum())
    reach = env_steps_to_reach(scalars, TAG, 500)
    return [mean_between(scalars, TAG, learning_starts, budget), mean_between(scalars, TAG, half, budget),
            reach if reach <= budget else float("nan"), dips]  # fmt: skip


def first_below(scalars: Scalars, threshold: float, learning_starts: float, budget: float) -> float:
    """Env steps of the run's first evaluation below `threshold` in (learning_starts, budget]; NaN if none."""
    series = series_between(scalars, TAG, learning_starts, budget)
    if series is None:
        return float("nan")
    env, values = series
    below = env[values < threshold]
    return float(below[0]) if below.size else float("nan")


def collapse_table(runs: dict[str, list[float]], threshold: float, start_k: float, confidence: float) -> list[str]:
    """Markdown rows from each group's `first_below` per run."""
    lines = [f"| runs | n | runs with an evaluation < {threshold:g} after {start_k:g}k "
             f"| {100 * confidence:g} % interval of the rate (Clopper–Pearson) | first such evaluation |",
             "|---|---:|---:|---:|---|"]  # fmt: skip
    for group, firsts in sorted(runs.items()):
        k = int(np.isfinite(firsts).sum())
        low, high = clopper_pearson(k, len(firsts), confidence)
        when = ", ".join(f"{x / 1000:.0f}k" for x in sorted(x for x in firsts if np.isfinite(x))) or "–"
        lines.append(f"| {group} | {len(firsts)} | {k} | [{100 * low:.0f} %, {100 * high:.0f} %] | {when} |")
    return lines


MEASURES = {"return": "mean eval return", **RELIABILITY}


def window_measure(curve: np.ndarray, metric: str) -> float:
    """One run's `metric` (a key of MEASURES) over the evaluations of a window."""
    return float(curve.mean()) if metric == "return" else curve_reliability(curve)[metric]


def mean_std_cell(column: Sequence[float], fmt: str = "{:.0f}") -> str:
    """'mean ± std' over the runs that have a value ('mean' for one run), and how many had one if not all."""
    m, s = mean_std(column)
    reached = int(np.isfinite(column).sum())
    cell = (fmt + " ± " + fmt).format(m, s) if len(column) > 1 else fmt.format(m)
    return cell if reached == len(column) else f"{cell} ({reached}/{len(column)} runs)"


def reliability_table(curves: dict[str, list[np.ndarray]], window: str) -> list[str]:
    """Markdown rows: per group, mean ± std over its runs of the window's mean return and each `curve_reliability`."""
    lines = [f"| runs | n | mean eval return, {window} | " + " | ".join(RELIABILITY.values()) + " |",
             "|---|---:|" + "---:|" * len(MEASURES)]  # fmt: skip
    for group, runs in sorted(curves.items()):
        cells = [mean_std_cell([window_measure(curve, metric) for curve in runs]) for metric in MEASURES]
        lines.append(f"| {group} | {len(runs)} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", default=["lightning_logs"], help="folders of runs or kept curves")
    parser.add_argument("--budget", type=float, default=40_000)
    parser.add_argument("--learning_starts", type=float, default=2_000)
    parser.add_argument("--runs", nargs="*", default=["*"], help="folder-name globs under LOGS")
    parser.add_argument("--against", help="compare this group's mean (over --window) with every other group's")
    parser.add_argument("--window", choices=("second_half", "all"), default="second_half",
                        help="what --against and --two_by_two compare: the second half of the budget, or all of it")
    parser.add_argument("--collapse_below", type=float,
                        help="count each group's runs with an evaluation below this return instead")
    parser.add_argument("--reliability", action="store_true",
                        help="how unsteady each group's curves are over --window, instead of the default table")
    parser.add_argument("--metric", choices=MEASURES, default="return",
                        help="what --against and --two_by_two compare over --window: the mean return or a reliability")
    add_confidence_option(parser)
    add_two_by_two_options(parser)
    args = parser.parse_args()
    if (args.against or args.two_by_two) and args.collapse_below is not None:
        raise SystemExit("error: --collapse_below makes a table of its own; give it without --against or --two_by_two")
    if args.reliability and (args.against or args.two_by_two or args.collapse_below is not None):
        raise SystemExit("error: --reliability makes a table of its own; "
                         "give it without --against, --two_by_two or --collapse_below")  # fmt: skip
    if args.metric != "return" and not (args.against or args.two_by_two):
        raise SystemExit("error: --metric picks what --against or --two_by_two compare; "
                         "give one of them, or --reliability for every measure")  # fmt: skip
    half = (args.learning_starts + args.budget) / 2
    window_start = half if args.window == "second_half" else args.learning_starts
    groups: dict[str, list[list[float]]] = defaultdict(list)
    curves: dict[str, list[np.ndarray]] = defaultdict(list)
    firsts: dict[str, list[float]] = defaultdict(list)
    runs = [(name, run) for logs in args.logs for name, run in find_runs(logs, args.runs)]
    names = [name for name, _ in runs]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise SystemExit(f"error: run {twice[0]} is in more than one of {', '.join(args.logs)}")
    for name, run in runs:
        scalars = load_scalars(run)
        row = run_row(scalars, args.budget, args.learning_starts)
        if np.isfinite(row[0]):  # the run reached the budget
            group = seed_group(name)
            groups[group].append(row)
            curves[group].append(series_between(scalars, TAG, window_start, args.budget)[1])
            if args.collapse_below is not None:
                firsts[group].append(first_below(scalars, args.collapse_below, args.learning_starts, args.budget))
    if not groups:
        raise SystemExit(f"error: no run under {', '.join(args.logs)} matching {args.runs} "
                         f"reached {args.budget:.0f} env steps")
    if args.collapse_below is not None:
        print("\n".join(collapse_table(firsts, args.collapse_below, args.learning_starts / 1000, args.confidence)))
        return
    window = f"{window_start / 1000:.0f}k–{args.budget / 1000:.0f}k"
    if args.reliability:
        print("\n".join(reliability_table(curves, window)))
        return
    means = {group: [window_measure(curve, args.metric) for curve in runs] for group, runs in sorted(curves.items())}
    what = f"{MEASURES[args.metric]}, {window}"
    if two_by_two := two_by_two_from_args(args, means, what):
        print("\n".join(two_by_two))
        return
    if args.against:
        if args.against not in groups:
            raise SystemExit(f"error: no run of '{args.against}' reached {args.budget:.0f} env steps "
                             f"(groups: {', '.join(sorted(groups))})")  # fmt: skip
        print("\n".join(comparison_table(means, args.against, what, args.confidence)))
        return
    print(f"| runs | n | mean eval return, {args.learning_starts / 1000:.0f}k–{args.budget / 1000:.0f}k "
          f"| mean eval return, {half / 1000:.0f}k–{args.budget / 1000:.0f}k | env steps to return 500 "
          f"| evals < 1000 after {half / 1000:.0f}k |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for group, rows in sorted(groups.items()):
        formats = ("{:.0f}", "{:.0f}", "{:.0f}", "{:.1f}")
        cells = [mean_std_cell(column, fmt) for column, fmt in zip(np.array(rows).T, formats, strict=True)]
        print(f"| {group} | {len(rows)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
