"""Reading TensorBoard runs back for reports: scalars per run, final metrics, mean ± std over seeds."""

from __future__ import annotations

import argparse
import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from math import comb
from pathlib import Path
from statistics import NormalDist
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def run_dirs(root: str | Path, pattern: str = "*/version_*") -> list[Path]:
    """Run folders (those holding event files) under a `lightning_logs`-style root."""
    return sorted(p for p in Path(root).glob(pattern) if any(p.glob("events.out.tfevents.*")))


def load_scalars(run_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """tag -> (steps, values) over every event file of the run (a resumed run has several), or from a
    curve file (`curves_csv`)."""
    if Path(run_dir).suffix == ".csv":
        return _load_curves(Path(run_dir))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, dict[int, float]] = {}
    for f in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            series.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return _as_arrays(series)


def curves_csv(scalars: dict[str, tuple[np.ndarray, np.ndarray]], prefix: str = "eval/") -> str:
    """Keep a run's learning curves after its logs are gone: the `prefix` tags, and `progress/env_steps`
    at their steps, as a small `tag,step,value` CSV that `load_scalars` reads back from a `.csv` file."""
    tags = sorted(tag for tag in scalars if tag.startswith(prefix))
    if not tags or "progress/env_steps" not in scalars:
        raise ValueError(f"nothing to save: the run logged no '{prefix}*' tags or no progress/env_steps")
    steps = np.unique(np.concatenate([scalars[tag][0] for tag in tags]))
    env_steps = np.interp(steps, *scalars["progress/env_steps"])
    rows = [("progress/env_steps", int(s), float(e)) for s, e in zip(steps, env_steps, strict=True)]
    rows += [(tag, int(s), float(v)) for tag in tags for s, v in zip(*scalars[tag], strict=True)]
    return "\n".join(["tag,step,value"] + [f"{tag},{step},{value!r}" for tag, step, value in rows]) + "\n"


def seed_group(name: str) -> str:
    """A run's group: its name without the `_seedN` suffix, so that a group's runs are its seeds."""
    return re.sub(r"_seed\d+$", "", name)


def group_by_seed(
    runs: Iterable[tuple[str, T]], match: Iterable[str] | None = None, per_seed: bool = False
) -> dict[str, list[T]]:
    """Each run's value under its group (`seed_group`, or the run's own name with `per_seed`), in run order;
    with `match`, only the runs whose name or group matches one of its globs (`'80k_main_seed[3-5]'` picks seeds)."""
    patterns = list(match or [])
    groups: dict[str, list[T]] = defaultdict(list)
    for name, value in runs:
        group = name if per_seed else seed_group(name)
        if not patterns or any(fnmatch.fnmatchcase(n, pattern) for pattern in patterns for n in (name, group)):
            groups[group].append(value)
    return dict(groups)


def find_runs(root: str | Path, patterns: Iterable[str]) -> list[tuple[str, Path]]:
    """(name, run) per folder or file under `root` matching a glob: a run folder's last version with event
    files, or a curve file NAME.csv (`curves_csv`); either can be passed to `load_scalars`."""
    found = []
    for path in sorted({p for pattern in patterns for p in Path(root).glob(pattern)}):
        if path.is_dir():
            versions = sorted(path.glob("version_*"))
            if versions and any(versions[-1].glob("events.out.tfevents.*")):
                found.append((path.name, versions[-1]))
        elif path.suffix == ".csv":
            found.append((path.stem, path))
    return found


def _load_curves(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    series: dict[str, dict[int, float]] = {}
    for line in path.read_text().splitlines()[1:]:
        tag, step, value = line.rsplit(",", 2)
        series.setdefault(tag, {})[int(step)] = float(value)
    return _as_arrays(series)


def _as_arrays(series: dict[str, dict[int, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        tag: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)], dtype=np.float64))
        for tag, points in series.items()
    }


def final_value(scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, last: int = 1) -> float:
    """Mean of the last `last` logged values of a tag (NaN when the tag is missing)."""
    if tag not in scalars or len(scalars[tag][1]) == 0:
        return float("nan")
    return float(np.mean(scalars[tag][1][-last:]))


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    v = np.array([x for x in values if np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std())


def format_mean_std(mean: float, std: float) -> str:
    """'1632 ± 59' rather than '1.63e+03 ± 59': three significant digits, but never an exponent for the
    returns, distances and step counts these tables hold."""
    return f"{format_value(mean)} ± {format_value(std, digits=2)}"


def format_value(x: float, digits: int = 3) -> str:
    """`digits` significant digits, or the integer part where that is longer."""
    if not np.isfinite(x) or abs(x) < 10 ** (digits - 1):
        return f"{x:.{digits}g}"
    return f"{x:.0f}"


def reward_term_shares(scalars: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Each reward term's share of the summed absolute per-episode term values over the run."""
    totals = {tag.split("/", 1)[1]: float(np.abs(vals).sum()) for tag, (_, vals) in scalars.items()
              if tag.startswith("rewards/")}
    total = sum(totals.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in totals.items()}


def env_step_series(
    scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, budget: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The tag's (env steps, values), mapped through `progress/env_steps` (tags are logged against
    updates); None if either is missing or the run stopped short of `budget` env steps."""
    if tag not in scalars or "progress/env_steps" not in scalars:
        return None
    if scalars["progress/env_steps"][1].max() < 0.99 * budget:
        return None
    steps, values = scalars[tag]
    return np.interp(steps, *scalars["progress/env_steps"]), values


def value_at(
    scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, env_step: float, last: int = 1
) -> float:
    """Mean of the tag's last `last` values logged at or before `env_step` env steps, for same-budget
    tables (`last` > 1 averages the final evaluations, which scatter a lot). NaN if there is none or the
    run stopped short of `env_step`.

    Tags are logged against updates; `progress/env_steps` maps updates to env steps.
    """
    series = env_step_series(scalars, tag, env_step)
    if series is None:
        return float("nan")
    env, values = series
    seen = values[env <= env_step + 0.5]
    return float(seen[-last:].mean()) if seen.size else float("nan")


def _window(values: np.ndarray, start: float, stop: float) -> np.ndarray:
    n = len(values)
    return values[int(start * n): max(int(stop * n), int(start * n) + 1)]


def validation_criteria(scalars: dict[str, tuple[np.ndarray, np.ndarray]], feature_dim: int = 512) -> list[dict]:
    """The reference system's validation criteria measured on one run: [{criterion, measured, passed}].

    Feature band: 10-100 for 512-d LayerNorm features (a fresh LayerNorm output has L2 ~ sqrt(d));
    for d-dim features the same band is scaled by sqrt(d / 512). "first/last 10 %" are of the logged
    points after learning starts.
    """
    rows = []

    def add(criterion: str, measured: str, passed: bool) -> None:
        rows.append({"criterion": criterion, "measured": measured, "passed": bool(passed)})

    scale = float(np.sqrt(feature_dim / 512))
    low, high = 10 * scale, 100 * scale
    norms = np.concatenate([scalars[t][1] for t in scalars if t.endswith("_cnn_feature_l2_norm")] or [[]])
    add(f"encoder feature L2 within {low:.3g}-{high:.3g} throughout ({feature_dim}-d)",
        f"{norms.min():.3g}-{norms.max():.3g} over {len(norms)} points" if len(norms) else "not logged",
        len(norms) > 0 and low <= norms.min() and norms.max() <= high)  # fmt: skip

    if "train/critic_loss" in scalars:
        loss = scalars["train/critic_loss"][1]
        median = float(np.median(loss))
        add("critic loss bounded (finite, never 100x its median)",
            f"median {median:.3g}, max {loss.max():.3g}, last 10 % median {np.median(_window(loss, 0.9, 1)):.3g}",
            bool(np.isfinite(loss).all()) and loss.max() <= 100 * median)  # fmt: skip
    if "train/actor_loss" in scalars:
        actor = np.abs(scalars["train/actor_loss"][1])
        half = _window(actor, 0.5, 1)
        add("actor loss stable in magnitude (2nd half: max / median < 10)",
            f"|actor loss| 2nd half median {np.median(half):.3g}, max {half.max():.3g}",
            bool(np.isfinite(actor).all()) and half.max() < 10 * np.median(half))  # fmt: skip
    if "train/td_error" in scalars and "train/target_q" in scalars:
        td, q = scalars["train/td_error"][1], np.abs(scalars["train/target_q"][1])
        relative = td / np.maximum(q, 1.0)
        first, last = np.median(_window(relative, 0, 0.1)), np.median(_window(relative, 0.9, 1))
        add("TD error decreasing (relative to |target Q|, first vs last 10 %)",
            f"{first:.3f} -> {last:.3f} (absolute {np.median(_window(td, 0, 0.1)):.3g} -> "
            f"{np.median(_window(td, 0.9, 1)):.3g})", last < first)  # fmt: skip
    if "eval/return_mean" in scalars:
        steps, returns = scalars["eval/return_mean"]
        slope = float(np.polyfit(steps, returns, 1)[0]) if len(returns) > 1 else float("nan")
        best_late = float(np.mean(returns[-3:]))
        add("episode return trending up (eval: slope > 0, mean of last 3 > first)",
            f"{returns[0]:.0f} -> {best_late:.0f} (max {returns.max():.0f}, slope {slope:.3g}/update)",
            slope > 0 and best_late > returns[0])  # fmt: skip
    alerts = {t: final_value(scalars, t) for t in scalars if t.startswith("alerts/")}
    add("zero feature-norm and gradient alerts",
        ", ".join(f"{t.split('/')[1]} {v:.0f}" for t, v in sorted(alerts.items())) or "not logged",
        bool(alerts) and all(v == 0 for v in alerts.values()))  # fmt: skip
    return rows


def env_steps_to_reach(scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, threshold: float) -> float:
    """Env steps at the first logged value >= threshold (NaN if never): learning speed, e.g. of warm-ups."""
    if tag not in scalars or "progress/env_steps" not in scalars:
        return float("nan")
    steps, values = scalars[tag]
    reached = np.flatnonzero(values >= threshold)
    if reached.size == 0:
        return float("nan")
    return float(np.interp(steps[reached[0]], *scalars["progress/env_steps"]))


def probability_of_improvement(a: Iterable[float], b: Iterable[float]) -> float:
    """P(a run of A scores above a run of B) over every (A, B) pair of runs, ties counting half.

    rliable's robust "does A beat B" for few seeds (Agarwal et al., 2021): 1.0 means every run of A beat
    every run of B; 0.5 means no difference in ranking.
    """
    x, y = np.asarray(list(a), dtype=np.float64), np.asarray(list(b), dtype=np.float64)
    if x.size == 0 or y.size == 0:
        raise ValueError("probability_of_improvement needs at least one run on each side")
    diff = x[:, None] - y[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def bootstrap_difference_ci(
    a: Iterable[float], b: Iterable[float], confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(A) - mean(B), resampling each group's runs separately.

    With one run on a side that side contributes no spread: the interval then only says how much the
    other side's seeds scatter, which is why tables built on it also give the run counts.
    """
    return bootstrap_contrast_ci([a, b], [1.0, -1.0], confidence, resamples, seed)


def bootstrap_contrast_ci(
    groups: Sequence[Iterable[float]],
    weights: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of sum_i weights[i] * mean(groups[i]), resampling each group's runs separately.

    Weights (1, -1) give a difference of two means; (1, -1, -1, 1) a 2x2 design's interaction: whether removing one
    measure costs more when another is gone, i.e. whether the two cover for each other.
    """
    runs = [np.asarray(list(g), dtype=np.float64) for g in groups]
    if len(runs) != len(weights) or not runs:
        raise ValueError(f"bootstrap_contrast_ci needs one weight per group, got {len(weights)} for {len(runs)}")
    if any(r.size == 0 for r in runs):
        raise ValueError("bootstrap_contrast_ci needs at least one run in every group")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    contrast = np.zeros(resamples)
    for r, w in zip(runs, weights, strict=True):
        contrast += w * rng.choice(r, (resamples, r.size)).mean(1)
    low, high = np.quantile(contrast, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def seeds_to_resolve(a: Iterable[float], b: Iterable[float], confidence: float = 0.95, power: float = 0.8) -> float:
    """Runs per side for a two-sided test at `confidence` to find mean(A) - mean(B) with probability `power`,
    if the observed difference and spreads were the truth (normal approximation).

    Says whether a tie is evidence of no effect or only of too few seeds: a difference of 37 with a
    seed-to-seed std of 150 needs about 260 runs per side. A side with one run (a fixed baseline)
    contributes no variance; NaN if neither side has two runs, inf if the means are equal.
    """
    x, y = np.asarray(list(a), dtype=np.float64), np.asarray(list(b), dtype=np.float64)
    if not 0 < confidence < 1 or not 0 < power < 1:
        raise ValueError(f"confidence and power must be in (0, 1), got {confidence} and {power}")
    if x.size < 2 and y.size < 2:
        return float("nan")
    variance = sum(float(v.var(ddof=1)) for v in (x, y) if v.size > 1)
    diff = float(x.mean() - y.mean())
    if diff == 0:
        return float("inf")
    z = NormalDist().inv_cdf((1 + confidence) / 2) + NormalDist().inv_cdf(power)
    return float(max(2, np.ceil(z**2 * variance / diff**2)))


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a rate seen k times in n runs: how often something happens, e.g. a
    collapse, when n is a handful of seeds and a normal approximation would say 0 % or go below it."""
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"clopper_pearson needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2

    def at_least(j: int, p: float) -> float:  # P(X >= j) for X ~ Binomial(n, p): rises with p
        return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(j, n + 1))

    def solve(j: int, target: float) -> float:  # the p where P(X >= j) = target, by bisection to 1e-18
        low, high = 0.0, 1.0
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if at_least(j, mid) < target else (low, mid)
        return (low + high) / 2

    lower = 0.0 if k == 0 else solve(k, tail)  # P(X >= k) = tail
    upper = 1.0 if k == n else solve(k + 1, 1 - tail)  # P(X <= k) = 1 - P(X >= k + 1) = tail
    return lower, upper


def _format_seeds(n: float) -> str:
    return "–" if np.isnan(n) else ">1000" if n > 1000 else f"{n:.0f}"


def comparison_table(
    values: dict[str, list[float]], against: str, what: str = "return", confidence: float = 0.95, decimals: int = 0
) -> list[str]:
    """Markdown rows: `against`'s mean minus each other group's, a bootstrap interval over runs at `confidence`,
    P(improvement) and the runs per side a clear answer at that confidence would take (`seeds_to_resolve`).
    `values` holds one number per run of each group, shown to `decimals` places (a rate needs two). KeyError if
    `against` is not a group.

    A stricter `confidence` is for a hypothesis tested again on more runs: two looks at 95 % each would
    find a difference that is not there more often than one look does."""
    ours = values[against]
    lines = [f"| policy | runs | {what} | {against} − policy | {100 * confidence:g} % interval (bootstrap over runs) "
             f"| P({against} > policy) | runs per side to resolve |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for group, theirs in values.items():
        if group == against:
            continue
        low, high = bootstrap_difference_ci(ours, theirs, confidence)
        d = decimals
        lines.append(f"| {group} | {len(theirs)} | {np.mean(theirs):.{d}f} | {np.mean(ours) - np.mean(theirs):+.{d}f} "
                     f"| [{low:+.{d}f}, {high:+.{d}f}] | {probability_of_improvement(ours, theirs):.2f} "
                     f"| {_format_seeds(seeds_to_resolve(ours, theirs, confidence))} |")  # fmt: skip
    return lines


def two_by_two_table(
    values: dict[str, list[float]],
    full: str,
    without_a: str,
    without_b: str,
    without_both: str,
    measures: tuple[str, str] = ("A", "B"),
    what: str = "return",
    confidence: float = 0.95,
    decimals: int = 0,
) -> list[str]:
    """Markdown rows for a 2x2 design of two measures A and B (e.g. TD3's fixes and LayerNorm): each group, what
    each measure changes (with − without) while the other is kept and once it is gone, and the difference of the
    two (the interaction), each with a bootstrap interval over runs at `confidence`. `measures` names A and B.

    Says whether the measures cover for each other: if they do, one changes little while the other is there and
    much once it is gone, and the interaction is large. KeyError if a group is not in `values`."""
    cells = {name: values[name] for name in (full, without_a, without_b, without_both)}
    if len(cells) < 4:
        named = ", ".join((full, without_a, without_b, without_both))
        raise ValueError(f"a 2x2 design needs four different groups, got {named}")
    d, (a, b) = decimals, measures
    roles = [f"{a} and {b}", f"{b} only", f"{a} only", "neither"]
    lines = [f"| group | has | runs | {what} |", "|---|---|---:|---:|"]
    lines += [f"| {name} | {role} | {len(runs)} | {np.mean(runs):.{d}f} |"
              for (name, runs), role in zip(cells.items(), roles, strict=True)]  # fmt: skip
    contrasts = [
        (f"{a}, {b} kept", {full: 1.0, without_a: -1.0}),
        (f"{a}, {b} gone", {without_b: 1.0, without_both: -1.0}),
        (f"{b}, {a} kept", {full: 1.0, without_b: -1.0}),
        (f"{b}, {a} gone", {without_a: 1.0, without_both: -1.0}),
        (f"interaction: {a} with {b} kept − {a} with {b} gone",
         {full: 1.0, without_a: -1.0, without_b: -1.0, without_both: 1.0}),
    ]  # fmt: skip
    lines += ["", f"| with − without | {what} | {100 * confidence:g} % interval (bootstrap over runs) |",
              "|---|---:|---:|"]  # fmt: skip
    for label, weights in contrasts:
        value = sum(w * np.mean(cells[name]) for name, w in weights.items())
        low, high = bootstrap_contrast_ci([cells[name] for name in weights], list(weights.values()), confidence)
        lines.append(f"| {label} | {value:+.{d}f} | [{low:+.{d}f}, {high:+.{d}f}] |")
    return lines


def add_confidence_option(parser: argparse.ArgumentParser) -> None:
    """--confidence of the comparison tables' intervals, checked as it is parsed (one-line error outside (0, 1))."""

    def confidence(text: str) -> float:
        value = float(text)
        if not 0 < value < 1:
            raise SystemExit(f"error: --confidence must be between 0 and 1, got {value}")
        return value

    parser.add_argument(
        "--confidence", type=confidence, default=0.95,
        help="of the --against and --two_by_two intervals; stricter for a hypothesis looked at again on more runs",
    )  # fmt: skip


def add_two_by_two_options(parser: argparse.ArgumentParser) -> None:
    """--two_by_two FULL WITHOUT_A WITHOUT_B WITHOUT_BOTH and --measures A B, read by `two_by_two_from_args`."""
    parser.add_argument(
        "--two_by_two", nargs=4, metavar=("FULL", "WITHOUT_A", "WITHOUT_B", "WITHOUT_BOTH"),
        help="instead of --against: what each of two measures changes with the other kept and with it gone",
    )  # fmt: skip
    parser.add_argument("--measures", nargs=2, metavar=("A", "B"), help="what --two_by_two's A and B are called")


def two_by_two_from_args(
    args: argparse.Namespace, values: dict[str, list[float]], what: str, decimals: int = 0
) -> list[str] | None:
    """`two_by_two_table` for the groups parsed by `add_two_by_two_options` (None without --two_by_two), with
    one-line errors for a bad design."""
    if not args.two_by_two:
        if args.measures:
            raise SystemExit("error: --measures names the measures of --two_by_two; give --two_by_two too")
        return None
    if args.against:
        raise SystemExit("error: --two_by_two and --against are two different tables; give one")
    if missing := [group for group in args.two_by_two if group not in values]:
        raise SystemExit(f"error: no runs of '{missing[0]}' for --two_by_two (groups: {', '.join(values)})")
    if len(set(args.two_by_two)) < 4:
        raise SystemExit(f"error: --two_by_two needs four different groups, got {' '.join(args.two_by_two)}")
    measures = tuple(args.measures) if args.measures else ("A", "B")
    return two_by_two_table(values, *args.two_by_two, measures, what, args.confidence, decimals)


def series_between(
    scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, start: float, stop: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The tag's (env steps, values) logged after `start` and up to `stop` env steps; None if the run stopped
    short of `stop` (see `env_step_series`)."""
    series = env_step_series(scalars, tag, stop)
    if series is None:
        return None
    env, values = series
    inside = (env > start) & (env <= stop + 0.5)
    return env[inside], values[inside]


def mean_between(scalars: dict[str, tuple[np.ndarray, np.ndarray]], tag: str, start: float, stop: float) -> float:
    """Mean of the tag's values logged after `start` and up to `stop` env steps: with eval returns, the
    area under the learning curve, which counts speed and stability, not just the last checkpoint.
    NaN if the run stopped short of `stop` or logged nothing in between."""
    series = series_between(scalars, tag, start, stop)
    if series is None or series[1].size == 0:
        return float("nan")
    return float(series[1].mean())


RELIABILITY = {
    "dispersion": "IQR of eval-to-eval changes",
    "short_term_risk": "worst 10 % of eval-to-eval changes, as a drop",
    "max_drawdown": "largest drawdown",
}


def curve_reliability(values: Iterable[float], alpha: float = 0.1) -> dict[str, float]:
    """How unsteady one run's learning curve is, by Chan et al.'s within-run measures ("Measuring the reliability of
    reinforcement learning algorithms", ICLR 2020), in return units, bigger meaning less reliable:
    - dispersion: the interquartile range of the changes between consecutive evaluations (the curve detrended by
      differencing, so steady learning is no spread);
    - short_term_risk: minus the mean of the changes at or below their `alpha` quantile (CVaR): the typical drop of
      the worst evaluation-to-evaluation steps, negative if even those were gains;
    - max_drawdown: the largest fall from the best evaluation so far (long-term risk: a collapse that stays).

    A mean over seeds hides all three. Unnormalised (Chan et al. divide by the curve's range to compare tasks): every
    comparison here is on one task. The evaluation's own noise counts too, alike for every config evaluated the
    same way. NaN for fewer than two evaluations."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    curve = np.asarray(list(values), dtype=np.float64)
    if curve.size < 2:
        return dict.fromkeys(RELIABILITY, float("nan"))
    changes = np.diff(curve)
    low, high = np.quantile(changes, [0.25, 0.75])
    worst = changes[changes <= np.quantile(changes, alpha)]
    return {
        "dispersion": float(high - low),
        "short_term_risk": float(-worst.mean()),
        "max_drawdown": float((np.maximum.accumulate(curve) - curve).max()),
    }
