import math

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from lightning_td3.analysis import (
    bootstrap_contrast_ci,
    bootstrap_difference_ci,
    clopper_pearson,
    curve_reliability,
    env_steps_to_reach,
    final_value,
    format_mean_std,
    format_value,
    group_by_seed,
    load_scalars,
    mean_between,
    mean_std,
    probability_of_improvement,
    reward_term_shares,
    run_dirs,
    seeds_to_resolve,
    two_by_two_table,
    validation_criteria,
    value_at,
)


def test_scalars_merge_event_files_of_a_resumed_run(tmp_path):
    run = tmp_path / "exp" / "version_0"
    for start in (0, 3):  # two processes writing into the same run folder
        w = SummaryWriter(run)
        for step in range(start, start + 3):
            w.add_scalar("eval/return_mean", step * 10.0, step)
            w.add_scalar("rewards/progress", 3.0, step)
            w.add_scalar("rewards/safety", -1.0, step)
        w.close()
    assert run_dirs(tmp_path) == [run]
    scalars = load_scalars(run)
    steps, values = scalars["eval/return_mean"]
    assert steps.tolist() == [0, 1, 2, 3, 4, 5] and values.tolist() == [0, 10, 20, 30, 40, 50]
    assert final_value(scalars, "eval/return_mean", last=2) == 45.0
    assert np.isnan(final_value(scalars, "missing"))
    assert reward_term_shares(scalars) == pytest.approx({"progress": 0.75, "safety": 0.25})


def test_mean_std_ignores_missing_values():
    assert mean_std([1.0, 3.0, float("nan")]) == (2.0, 1.0)


def synthetic_run(steps=100, blowup=False):
    s = np.arange(steps, dtype=float)
    critic = np.full(steps, 5.0)
    if blowup:
        critic[-1] = 1e4
    return {
        "progress/env_steps": (s, 2 * s + 2000),
        "debug/critic_cnn_feature_l2_norm": (s, np.full(steps, 7.0)),
        "train/critic_loss": (s, critic),
        "train/actor_loss": (s, -np.linspace(10, 100, steps)),
        "train/td_error": (s, np.linspace(10, 20, steps)),
        "train/target_q": (s, np.linspace(20, 400, steps)),
        "eval/return_mean": (s[::10], np.linspace(-20, 400, 10)),
        "alerts/feature_norm_warning": (s[::10], np.zeros(10)),
        "alerts/gradient_critical": (s[::10], np.zeros(10)),
    }


def test_validation_criteria_pass_a_healthy_run_with_the_band_scaled_to_the_feature_size():
    rows = validation_criteria(synthetic_run(), feature_dim=50)
    assert [r["passed"] for r in rows] == [True] * 6
    assert rows[0]["criterion"] == "encoder feature L2 within 3.12-31.2 throughout (50-d)"
    assert rows[3]["measured"].startswith("0.281 -> 0.051")  # median td/|q| of the first 10 %: 10.45/37.3
    failing = validation_criteria(synthetic_run(blowup=True), feature_dim=512)
    assert [r["passed"] for r in failing][:2] == [False, False]  # 7 < 10; loss spike 1e4 > 100 x median 5


def test_value_at_reads_the_budget_in_env_steps():
    run = synthetic_run()
    assert value_at(run, "eval/return_mean", 2000 + 2 * 45) == pytest.approx(np.linspace(-20, 400, 10)[4])
    two_evals = np.linspace(-20, 400, 10)[3:5].mean()
    assert value_at(run, "eval/return_mean", 2000 + 2 * 45, last=2) == pytest.approx(two_evals)
    assert np.isnan(value_at(run, "eval/return_mean", 100))
    assert np.isnan(value_at(run, "eval/return_mean", 2000 + 2 * 99 + 500))  # the run ended before that
    assert np.isnan(value_at(run, "missing", 5000))


def test_env_steps_to_reach_maps_the_first_crossing_to_env_steps():
    run = synthetic_run()  # eval returns -20 ... 400 at updates 0, 10, ..., 90; env steps = 2 * update + 2000
    first = int(np.argmax(np.linspace(-20, 400, 10) >= 300))  # the 8th evaluation, update 70
    assert env_steps_to_reach(run, "eval/return_mean", 300) == 2 * 10 * first + 2000
    assert np.isnan(env_steps_to_reach(run, "eval/return_mean", 1e6))


def test_probability_of_improvement_counts_every_pair_of_runs_like_a_naive_double_loop():
    a, b = [1500.0, 1700.0, 1200.0], [1600.0, 1200.0]
    naive = sum((x > y) + 0.5 * (x == y) for x in a for y in b) / (len(a) * len(b))
    assert probability_of_improvement(a, b) == pytest.approx(naive) == pytest.approx(3.5 / 6)
    assert probability_of_improvement([2, 3], [0, 1]) == 1.0
    assert probability_of_improvement([0, 1], [2, 3]) == 0.0
    assert probability_of_improvement([5, 5], [5]) == 0.5
    with pytest.raises(ValueError, match="at least one run"):
        probability_of_improvement([], [1.0])


def test_bootstrap_difference_ci_separates_distinct_groups_and_not_overlapping_ones():
    low, high = bootstrap_difference_ci([1500, 1550, 1600], [100, 120, 90])
    assert 1380 < low < high < 1500  # the observed difference, 1446.7, and nothing near zero
    low, high = bootstrap_difference_ci([1000, 1600, 1300], [1100, 1500, 1350])
    assert low < 0 < high
    # one run each: no spread to resample, the interval is the observed difference
    assert bootstrap_difference_ci([7.0], [2.0]) == (5.0, 5.0)
    assert bootstrap_difference_ci([1, 5, 9], [2], seed=3) == bootstrap_difference_ci([1, 5, 9], [2], seed=3)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_difference_ci([1], [2], confidence=1.5)


def test_bootstrap_contrast_ci_matches_a_naive_resampling_loop_and_is_the_difference_for_weights_1_minus_1():
    groups = [[1600, 1650, 1620], [1590, 1610], [1200, 1300, 1250, 900], [1000, 1100]]
    weights = [1.0, -1.0, -1.0, 1.0]  # a 2x2 interaction
    # naive reference: the same generator, one resample of every group at a time, the contrast of their means
    rng = np.random.default_rng(5)
    draws = [rng.choice(np.array(g, float), (4000, len(g))) for g in groups]
    naive = sum(w * d.mean(1) for w, d in zip(weights, draws, strict=True))
    expected = tuple(np.quantile(naive, [0.05, 0.95]))
    assert bootstrap_contrast_ci(groups, weights, 0.9, resamples=4000, seed=5) == pytest.approx(expected, abs=1e-9)
    observed = 1623.3 - 1600 - 1162.5 + 1050
    low, high = expected
    assert low < observed < high and high - low > 100  # group 3's 900 makes it wide
    a, b = groups[2], groups[3]
    assert bootstrap_contrast_ci([a, b], [1, -1], seed=2) == bootstrap_difference_ci(a, b, seed=2)
    with pytest.raises(ValueError, match="one weight per group, got 1 for 2"):
        bootstrap_contrast_ci([a, b], [1.0])
    with pytest.raises(ValueError, match="at least one run in every group"):
        bootstrap_contrast_ci([a, []], [1.0, -1.0])


def test_two_by_two_table_gives_each_measure_with_the_other_kept_and_gone_and_their_interaction():
    # B covers for A: A is worth 20 while B is there and 400 once B is gone
    values = {"both": [1600, 1620, 1640], "b_only": [1580, 1600], "a_only": [1500, 1520], "neither": [1100, 1120],
              "other": [0.0]}  # fmt: skip
    lines = two_by_two_table(values, "both", "b_only", "a_only", "neither", ("twin", "LN"), confidence=0.9)
    assert lines[:6] == ["| group | has | runs | return |", "|---|---|---:|---:|", "| both | twin and LN | 3 | 1620 |",
                         "| b_only | LN only | 2 | 1590 |", "| a_only | twin only | 2 | 1510 |",
                         "| neither | neither | 2 | 1110 |"]  # fmt: skip
    rows = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[1:] for line in lines[9:]}
    assert lines[7] == "| with − without | return | 90 % interval (bootstrap over runs) |"
    estimates = {label: int(cells[0]) for label, cells in rows.items()}
    assert estimates == {"twin, LN kept": 30, "twin, LN gone": 400, "LN, twin kept": 110, "LN, twin gone": 480,
                         "interaction: twin with LN kept − twin with LN gone": -370}  # fmt: skip
    for label, cells in rows.items():
        low, high = (int(x) for x in cells[1].strip(" |[]").split(", "))
        assert low <= estimates[label] <= high
    assert rows["interaction: twin with LN kept − twin with LN gone"][1].startswith("[-")
    with pytest.raises(ValueError, match="four different groups"):
        two_by_two_table(values, "both", "b_only", "b_only", "neither")
    with pytest.raises(KeyError):
        two_by_two_table(values, "both", "b_only", "a_only", "missing")


def test_clopper_pearson_covers_the_true_rate_at_least_as_often_as_it_promises():
    # the closed forms at the ends: none of 9 runs collapsed, or all 3 did
    assert clopper_pearson(0, 9) == (0.0, pytest.approx(1 - 0.025 ** (1 / 9), abs=1e-12))  # 0.336
    assert clopper_pearson(3, 3) == (pytest.approx(0.025 ** (1 / 3), abs=1e-12), 1.0)  # 0.292
    # 2 of 6 (scipy.stats.beta.ppf(0.025, 2, 5) and .ppf(0.975, 3, 4))
    assert clopper_pearson(2, 6) == pytest.approx((0.0432718682927417, 0.7772219044964879), abs=1e-12)
    # exact coverage (no simulation): summed over every count k a run of n seeds can give, the probability that
    # the interval from k holds the true rate p is at least the confidence, for any p
    for n in (3, 6, 9):
        intervals = [clopper_pearson(k, n) for k in range(n + 1)]
        for p in np.linspace(0.01, 0.99, 99):
            pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
            assert sum(w for w, (low, high) in zip(pmf, intervals, strict=True) if low <= p <= high) >= 0.95 - 1e-12
    assert clopper_pearson(1, 6, confidence=0.5)[1] < clopper_pearson(1, 6)[1]  # looser confidence, tighter interval
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(4, 3)
    with pytest.raises(ValueError, match="confidence"):
        clopper_pearson(1, 3, confidence=0.0)


def test_seeds_to_resolve_gives_the_power_it_promises():
    # A: mean 1376, std 49; B: mean 1340, std 191 (the heading frame's main and single critic, session 19)
    a, b = [1327.0, 1376.0, 1425.0], [1340.0 - 191 / 2**0.5, 1340.0 + 191 / 2**0.5]
    n = seeds_to_resolve(a, b)
    assert n == np.ceil((1.959964 + 0.841621) ** 2 * (49**2 + 191**2) / 36**2) == 236
    # at that many runs per side, a two-sided 95 % z-test on normal seeds detects the difference 80 % of the time
    rng = np.random.default_rng(0)
    x = rng.normal(1376, 49, (4000, int(n))).mean(1)
    y = rng.normal(1340, 191, (4000, int(n))).mean(1)
    z = (x - y) / np.sqrt((49**2 + 191**2) / n)
    assert (np.abs(z) > 1.959964).mean() == pytest.approx(0.80, abs=0.03)
    # a clear gap needs few runs; a fixed baseline adds no variance; equal means never resolve
    assert seeds_to_resolve([1500, 1550, 1600], [100, 120, 90]) == 2
    assert seeds_to_resolve([1, 2, 3], [2.0]) == np.inf
    assert np.isnan(seeds_to_resolve([7.0], [2.0]))  # no run-to-run spread on either side to go by
    with pytest.raises(ValueError, match="power"):
        seeds_to_resolve([1, 2], [3, 4], power=1.0)


def test_mean_between_averages_the_evaluations_inside_the_env_step_window(tmp_path):
    w = SummaryWriter(tmp_path)
    for update in range(0, 101, 10):  # env steps = 1000 + 2 * update
        w.add_scalar("progress/env_steps", 1000 + 2 * update, update)
        w.add_scalar("eval/return_mean", float(update), update)
    w.close()
    scalars = load_scalars(tmp_path)
    # env steps in (1020, 1100]: updates 20 (excluded, = start) ... 50
    assert mean_between(scalars, "eval/return_mean", 1040, 1100) == pytest.approx((30 + 40 + 50) / 3)
    assert mean_between(scalars, "eval/return_mean", 0, 1200) == pytest.approx(50.0)
    assert np.isnan(mean_between(scalars, "eval/return_mean", 0, 5000))  # the run stopped short
    assert np.isnan(mean_between(scalars, "missing", 0, 1200))


def test_format_mean_std_never_uses_an_exponent_for_large_values():
    assert format_mean_std(1632.4, 59.2) == "1632 ± 59"
    assert format_mean_std(1480.0, 120.3) == "1480 ± 120"  # was '1.48e+03 ± 1.2e+02'
    assert format_mean_std(0.8222, 0.163) == "0.822 ± 0.16"
    assert format_mean_std(-22.46, 3.04) == "-22.5 ± 3"
    assert format_value(0.00521) == "0.00521" and format_value(15998.0) == "15998"


def test_group_by_seed_groups_runs_by_name_without_the_seed_and_filters_on_name_or_group():
    runs = [("main_seed0", 1), ("main_seed10", 2), ("ddpg_seed1", 3), ("main_seedling", 4)]
    assert group_by_seed(runs) == {"main": [1, 2], "ddpg": [3], "main_seedling": [4]}
    assert group_by_seed(runs, match=["main_seed1*"]) == {"main": [2]}  # seed10 by name, not seed0
    assert group_by_seed(runs, match=["ddpg"]) == {"ddpg": [3]}  # by the group's name
    assert group_by_seed(runs, per_seed=True, match=["main_seed?"]) == {"main_seed0": [1]}


def test_curve_reliability_reads_the_spread_the_worst_drops_and_the_largest_fall_of_a_curve():
    # changes +100, -50, +100, -130: quartiles -70 and +100; the 10 % quantile (-106) leaves only -130; the best so
    # far is 250 when the curve falls to 120
    assert curve_reliability([100, 200, 150, 250, 120]) == {"dispersion": 170.0, "short_term_risk": 130.0,
                                                            "max_drawdown": 130.0}  # fmt: skip
    # steady learning has no spread and no drawdown, and its worst change is a gain
    assert curve_reliability([100, 200, 300, 400, 500]) == {"dispersion": 0.0, "short_term_risk": -100.0,
                                                            "max_drawdown": 0.0}  # fmt: skip
    # a wider tail averages more of the worst changes: -130 and -50 below the 40 % quantile (-50)
    assert curve_reliability([100, 200, 150, 250, 120], alpha=0.4)["short_term_risk"] == 90.0
    # against a naive reading of a random curve
    curve = np.random.default_rng(0).normal(1000, 300, 20)
    changes = [b - a for a, b in zip(curve, curve[1:], strict=False)]
    worst = sorted(changes)[: int(np.sum(np.array(changes) <= np.quantile(changes, 0.1)))]
    peaks = [max(curve[: i + 1]) for i in range(len(curve))]
    got = curve_reliability(curve)
    assert got["short_term_risk"] == pytest.approx(-sum(worst) / len(worst))
    assert got["max_drawdown"] == pytest.approx(max(p - c for p, c in zip(peaks, curve, strict=True)))
    assert len(worst) == 2  # 19 changes: the worst two
    assert all(math.isnan(v) for v in curve_reliability([1500.0]).values())
    with pytest.raises(ValueError, match="alpha must be in"):
        curve_reliability([1, 2, 3], alpha=1.0)
