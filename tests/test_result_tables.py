import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "eval_table.py"


def write_eval(folder, name, ret, success=1.0, **overrides):
    keys = dict(return_mean=ret, return_std=10.0, success_rate=success, route_completion_mean=1.0, avg_speed_kmh=30.0,
                collisions_per_km=0.0, lane_invasions_per_km=0.0, episode_length_mean=200.0, episodes=10,
                distance_mean=350.0)  # fmt: skip
    (folder / f"eval_{name}.json").write_text(json.dumps({**keys, **overrides}))


def table(folder, *args):
    return subprocess.run([sys.executable, str(SCRIPT), str(folder), *args], capture_output=True, text=True)


def test_seeds_are_grouped_and_compared_against_the_named_group(tmp_path):
    for seed, ret in enumerate([1500.0, 1700.0, 1600.0]):
        write_eval(tmp_path, f"main_seed{seed}", ret)
    write_eval(tmp_path, "ablation_ddpg_seed0", -20.0, success=0.0)
    for seed, ret in enumerate([1650.0, 1550.0]):
        write_eval(tmp_path, f"ablation_no_layernorm_seed{seed}", ret)

    metrics = table(tmp_path).stdout.splitlines()
    assert "| main | 3 | 1600 ± 82 | 1 ± 0 |" in metrics[-1]
    assert "| ablation_ddpg | 1 | -20 ± 10 (episodes) | 0 |" in metrics[2]

    rows = {line.split(" | ")[0].strip("| "): line for line in table(tmp_path, "--against", "main").stdout.splitlines()}
    assert "main" not in rows
    # a gap of 1620 against a seed std of 100 needs the minimum, 2 runs per side, to resolve
    assert rows["ablation_ddpg"].endswith("| 1 | -20 | +1620 | [+1520, +1720] | 1.00 | 2 |")
    # the ddpg interval is main's seed spread: a mean of three resampled seeds falls below 1520 or above 1720
    # with probability 1/27 each, more than 2.5 %.
    # no_layernorm: equal means, and main wins 3 of the 6 seed pairs (1700 beats both, 1600 beats 1550)
    row = rows["ablation_no_layernorm"].split(" | ")
    assert row[1:4] == ["2", "1600", "+0"] and row[-2:] == ["0.50", ">1000 |"]  # equal means never resolve
    low, high = (int(x) for x in row[4].strip("[]").split(", "))
    assert -200 < low < 0 < high < 200

def test_pool_merges_a_runs_checkpoints_into_one_evaluation_of_all_their_episodes(tmp_path):
    # seed 0: 10 laps at exactly 1000 (100 m each), then 10 at exactly 1200 (300 m each): 20 laps, mean 1100,
    # std 100; 2 lane invasions/km over 1 km, then none over 3 km: 0.5 per km; success 1 and 0.5: 0.75
    write_eval(tmp_path, "78k_main_seed0", 1000.0, return_std=0.0, distance_mean=100.0, lane_invasions_per_km=2.0)
    write_eval(tmp_path, "80k_main_seed0", 1200.0, 0.5, return_std=0.0, distance_mean=300.0)
    write_eval(tmp_path, "80k_main_seed1", 1300.0)  # no 78k evaluation: not pooled
    lines = table(tmp_path, "--pool", "78k", "80k").stdout.splitlines()
    rows = {line.split(" | ")[0].strip("| "): line for line in lines}
    assert rows["78k+80k_main"] == "| 78k+80k_main | 1 | 1100 ± 100 (episodes) | 0.75 | 1 | 30 | 0 | 0.5 | 200 |"
    assert rows["80k_main"].startswith("| 80k_main | 2 | 1250 ± 50 |")  # the checkpoints' own rows stay
    against = table(tmp_path, "--pool", "78k", "80k", "--against", "78k+80k_main").stdout
    assert "| 78k_main | 1 | 1000 | +100 |" in against
    alone = table(tmp_path, "--pool", "80k")
    assert alone.returncode != 0
    assert alone.stderr.strip() == "error: --pool needs at least two prefixes, e.g. --pool 78k 80k"


def test_per_seed_rows_show_how_each_run_changed_between_two_pooled_budgets(tmp_path):
    # two runs evaluated at 78k, 80k, 158k and 160k: seed 1 improves, seed 2 degrades
    for seed, returns in [(1, [1000.0, 1200.0, 1500.0, 1700.0]), (2, [1800.0, 1600.0, 900.0, 700.0])]:
        for prefix, ret in zip(["78k", "80k", "158k", "160k"], returns, strict=True):
            write_eval(tmp_path, f"{prefix}_ddpg_seed{seed}", ret, return_std=0.0)
    write_eval(tmp_path, "80k_main_seed0", 1650.0)
    lines = table(tmp_path, "--pool", "78k", "80k", "--pool", "158k", "160k", "--per_seed",
                  "--match", "*+*_ddpg_seed*").stdout.splitlines()  # fmt: skip
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:3] for line in lines[2:]}
    assert rows == {"78k+80k_ddpg_seed1": ["1", "1100 ± 100 (episodes)"],
                    "78k+80k_ddpg_seed2": ["1", "1700 ± 100 (episodes)"],
                    "158k+160k_ddpg_seed1": ["1", "1600 ± 100 (episodes)"],
                    "158k+160k_ddpg_seed2": ["1", "800 ± 100 (episodes)"]}  # fmt: skip
    grouped = table(tmp_path, "--pool", "158k", "160k", "--match", "158k+160k_*").stdout.splitlines()
    assert grouped[2].startswith("| 158k+160k_ddpg | 2 | 1200 ± 400 |")  # without --per_seed the seeds pool
    # a glob with a seed picks runs: the group keeps its name and has only those seeds
    fresh = table(tmp_path, "--pool", "158k", "160k", "--match", "158k+160k_ddpg_seed[2-9]", "80k_main").stdout
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:3] for line in fresh.splitlines()[2:]}
    assert rows == {"158k+160k_ddpg": ["1", "800 ± 100 (episodes)"], "80k_main": ["1", "1650 ± 10 (episodes)"]}
    nothing = table(tmp_path, "--match", "tau02_*")
    assert nothing.returncode != 0 and nothing.stderr.strip() == f"error: no evaluations under {tmp_path} match tau02_*"


def test_an_unknown_group_is_a_one_line_error(tmp_path):
    write_eval(tmp_path, "main_seed0", 1.0)
    result = table(tmp_path, "--against", "mian")
    assert result.returncode != 0
    assert result.stderr.strip() == "error: no evaluations of 'mian' (groups: main)"


def test_several_folders_are_read_as_one_and_a_shared_baseline_must_agree(tmp_path):
    first, second = tmp_path / "traffic", tmp_path / "traffic_smooth"
    for folder, seeds in [(first, [0, 1]), (second, [2])]:
        folder.mkdir()
        write_eval(folder, "classical", 1800.0)  # the env's baseline, evaluated into both folders
        for seed in seeds:
            write_eval(folder, f"80k_main_seed{seed}", 1000.0 + 100 * seed)
    rows = table(first, second).stdout.splitlines()[2:]
    assert [row.split(" | ")[:3] for row in rows] == [["| 80k_main", "3", "1100 ± 82"],
                                                     ["| classical", "1", "1800 ± 10 (episodes)"]]  # fmt: skip
    write_eval(second, "classical", 1750.0)  # re-evaluated differently: which one is meant?
    clash = table(first, second)
    assert clash.returncode != 0 and clash.stdout == ""
    assert clash.stderr.strip() == f"error: eval_classical.json differs between {first} and {second}"


def test_a_second_look_at_a_hypothesis_can_ask_for_a_stricter_interval(tmp_path):
    for seed, (ours, theirs) in enumerate([(1500.0, 1300.0), (1700.0, 1200.0), (1600.0, 1500.0), (1400.0, 1250.0)]):
        write_eval(tmp_path, f"main_seed{seed}", ours)
        write_eval(tmp_path, f"ddpg_seed{seed}", theirs)

    def row(*confidence):
        lines = table(tmp_path, "--against", "main", *confidence).stdout.splitlines()
        cells = lines[2].split(" | ")
        low, high = (int(x) for x in cells[4].strip("[]").split(", "))
        return lines[0].split(" | ")[4], low, high, int(cells[-1].strip(" |"))

    header, low, high, runs = row()
    strict_header, strict_low, strict_high, strict_runs = row("--confidence", "0.975")
    assert (header, strict_header) == ("95 % interval (bootstrap over runs)", "97.5 % interval (bootstrap over runs)")
    # the same resamples, cut further out: the stricter interval holds the other, and resolving takes more runs
    assert strict_low < low < 237 < high < strict_high and strict_runs > runs
    wrong = table(tmp_path, "--against", "main", "--confidence", "95")
    assert wrong.returncode != 0 and wrong.stderr.strip() == "error: --confidence must be between 0 and 1, got 95.0"


def write_run(logs, name, returns, env_per_eval=2000, start=2000):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(logs / name / "version_0")
    for i, value in enumerate(returns):
        update = (i + 1) * 100
        w.add_scalar("progress/env_steps", start + (i + 1) * env_per_eval, update)
        w.add_scalar("eval/return_mean", value, update)
    w.close()


def test_curve_table_averages_the_learning_curve_per_group(tmp_path):
    curve_script = SCRIPT.with_name("curve_table.py")
    # evaluations at 4k, 6k, 8k, 10k env steps; budget 10k, learning starts 2k: second half is (6k, 10k]
    write_run(tmp_path, "fast_seed0", [600.0, 1200.0, 1400.0, 1600.0])
    write_run(tmp_path, "fast_seed1", [400.0, 800.0, 1200.0, 1400.0])
    write_run(tmp_path, "short_seed0", [100.0, 200.0])  # stops at 6k: left out
    args = [sys.executable, str(curve_script), str(tmp_path), "--budget", "10000"]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| fast")]
    # means 1200 and 950; second halves 1500 and 1300; 500 first reached at 4k and 6k; dips < 1000: 0 and 0
    assert rows == ["| fast | 2 | 1075 ± 125 | 1400 ± 100 | 5000 ± 1000 | 0.0 ± 0.0 |"]
    assert "short" not in out.stdout
    none = subprocess.run([*args, "--runs", "short_*"], capture_output=True, text=True)
    assert none.returncode != 0 and "reached 10000 env steps" in none.stderr


def test_curve_table_compares_second_halves_against_the_named_group(tmp_path):
    curve_script = SCRIPT.with_name("curve_table.py")
    write_run(tmp_path, "main_seed0", [600.0, 1200.0, 1400.0, 1600.0])  # second half (6k, 10k]: 1500
    write_run(tmp_path, "main_seed1", [400.0, 800.0, 1200.0, 1400.0])  # 1300
    write_run(tmp_path, "ablation_seed0", [900.0, 1400.0, 1000.0, 1200.0])  # 1100, the better start
    args = [sys.executable, str(curve_script), str(tmp_path), "--budget", "10000", "--against", "main"]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("| policy | runs | mean eval return, 6k–10k | main − policy |")
    # one ablation run: the interval is main's two seeds resampled, means 1300, 1400 or 1500, minus 1100
    assert lines[2] == "| ablation | 1 | 1100 | +300 | [+200, +400] | 1.00 | 2 |"
    assert len(lines) == 3
    # the whole curves, (2k, 10k]: main 1200 and 950, ablation 1125 (its better start counts here)
    whole = subprocess.run([*args, "--window", "all"], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    lines = whole.stdout.splitlines()
    assert lines[0].startswith("| policy | runs | mean eval return, 2k–10k | main − policy |")
    assert lines[2] == "| ablation | 1 | 1125 | -50 | [-175, +75] | 0.50 | 99 |"  # one main seed above it, one below
    strict = subprocess.run([*args, "--window", "all", "--confidence", "0.975"], capture_output=True, text=True)
    header, row = strict.stdout.splitlines()[0::2]
    assert "| 97.5 % interval (bootstrap over runs) |" in header
    # three resampled means, so no wider; runs: (z(0.9875) + z(0.8))² · var(1200, 950) / 50² = 3.083² · 31250 / 2500
    assert row == "| ablation | 1 | 1125 | -50 | [-175, +75] | 0.50 | 119 |"
    missing = subprocess.run([*args[:-1], "mian"], capture_output=True, text=True)
    assert missing.returncode != 0
    assert missing.stderr.strip() == "error: no run of 'mian' reached 10000 env steps (groups: ablation, main)"


def test_curve_table_counts_the_runs_that_collapsed_with_an_exact_interval(tmp_path):
    curve_script = SCRIPT.with_name("curve_table.py")
    # evaluations at 4k, 6k, 8k, 10k env steps; the window is (4k, 10k]
    write_run(tmp_path, "main_seed0", [-20.0, 1200.0, 1400.0, 1600.0])  # below 0 only at 4k: before the window
    write_run(tmp_path, "main_seed1", [400.0, 800.0, 1200.0, 1400.0])
    write_run(tmp_path, "ablation_seed0", [900.0, -21.0, -22.0, 1200.0])  # collapsed at 6k, recovered
    write_run(tmp_path, "ablation_seed1", [900.0, 1400.0, 1000.0, -5.0])  # at 10k, the budget
    write_run(tmp_path, "ablation_seed2", [900.0, 1400.0, 1000.0, 0.0])  # 0 is not below 0
    args = [sys.executable, str(curve_script), str(tmp_path), "--budget", "10000", "--learning_starts", "4000",
            "--collapse_below", "0"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "| runs | n | runs with an evaluation < 0 after 4k | 95 % interval of the rate (Clopper–Pearson) "
        "| first such evaluation |",
        "|---|---:|---:|---:|---|",
        "| ablation | 3 | 2 | [9 %, 99 %] | 6k, 10k |",  # 1 - 0.025^(1/3) = 0.992; lower: P(X >= 2 | 0.094) = 0.025
        "| main | 2 | 0 | [0 %, 84 %] | – |",  # 1 - 0.025^(1/2) = 0.842
    ]
    both = subprocess.run([*args, "--against", "main"], capture_output=True, text=True)
    assert both.returncode != 0
    expected = "error: --collapse_below makes a table of its own; give it without --against or --two_by_two"
    assert both.stderr.strip() == expected


def test_curve_table_reads_how_unsteady_each_groups_curves_are_and_compares_one_measure(tmp_path):
    curve_script = SCRIPT.with_name("curve_table.py")
    # evaluations at 4k-12k; with --window all every one counts
    write_run(tmp_path, "main_seed0", [100.0, 200.0, 150.0, 250.0, 120.0])  # spread 170, worst drop 130, fall 130
    write_run(tmp_path, "main_seed1", [100.0, 200.0, 300.0, 400.0, 500.0])  # steady: 0, a gain of 100, 0
    write_run(tmp_path, "ablation_seed0", [500.0, 100.0, 500.0, 100.0, 500.0])  # 800, 400, 400
    args = [sys.executable, str(curve_script), str(tmp_path), "--budget", "12000", "--window", "all"]
    out = subprocess.run([*args, "--reliability"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "| runs | n | mean eval return, 2k–12k | IQR of eval-to-eval changes "
        "| worst 10 % of eval-to-eval changes, as a drop | largest drawdown |",
        "|---|---:|---:|---:|---:|---:|",
        "| ablation | 1 | 340 | 800 | 400 | 400 |",
        "| main | 2 | 232 ± 68 | 85 ± 85 | 15 ± 115 | 65 ± 65 |",
    ]
    fall = subprocess.run([*args, "--against", "main", "--metric", "max_drawdown"], capture_output=True, text=True)
    lines = fall.stdout.splitlines()
    assert lines[0].startswith("| policy | runs | largest drawdown, 2k–12k | main − policy |")
    # main's falls resampled: 0, 65 or 130, against the ablation's 400
    assert lines[2] == "| ablation | 1 | 400 | -335 | [-400, -270] | 0.00 | 2 |"
    cases = [(["--reliability", "--against", "main"], "error: --reliability makes a table of its own; "
              "give it without --against, --two_by_two or --collapse_below"),
             (["--metric", "dispersion"], "error: --metric picks what --against or --two_by_two compare; "
              "give one of them, or --reliability for every measure")]  # fmt: skip
    for extra, message in cases:
        made = subprocess.run([*args, *extra], capture_output=True, text=True)
        assert made.returncode != 0 and made.stderr.strip() == message


def test_curve_table_pools_the_runs_of_several_folders(tmp_path):
    """Fresh seeds kept in their own folder join the earlier seeds' group; a run in two folders is an error."""
    curve_script = SCRIPT.with_name("curve_table.py")
    write_run(tmp_path / "old", "main_seed0", [600.0, 1200.0, 1400.0, 1600.0])  # whole curve (2k, 10k]: 1200
    write_run(tmp_path / "new", "main_seed3", [400.0, 800.0, 1200.0, 1400.0])  # 950
    args = [sys.executable, str(curve_script), str(tmp_path / "old"), str(tmp_path / "new"), "--budget", "10000"]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [line for line in out.stdout.splitlines() if line.startswith("| main")] == [
        "| main | 2 | 1075 ± 125 | 1400 ± 100 | 5000 ± 1000 | 0.0 ± 0.0 |"
    ]
    write_run(tmp_path / "new", "main_seed0", [0.0, 0.0, 0.0, 0.0])
    twice = subprocess.run(args, capture_output=True, text=True)
    assert twice.returncode != 0
    folders = f"{tmp_path / 'old'}, {tmp_path / 'new'}"
    assert twice.stderr.strip() == f"error: run main_seed0 is in more than one of {folders}"


def test_exported_curves_give_the_same_tables_as_the_logs(tmp_path):
    """The logs do not outlive a machine; the kept CSVs must stand in for them exactly."""
    logs, kept = tmp_path / "logs", tmp_path / "curves"
    write_run(logs, "main_seed0", [600.0, 1200.0, 1400.0, 1600.0])
    write_run(logs, "main_seed1", [400.0, 800.0, 1200.0, 1400.0], env_per_eval=2100)  # evals off the 2k grid
    write_run(logs, "ablation_seed0", [900.0, 1400.0, 1000.0, 1200.0])
    export = subprocess.run([sys.executable, str(SCRIPT.with_name("export_curves.py")), str(logs), str(kept)],
                            capture_output=True, text=True)  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert export.stdout.splitlines() == ["ablation_seed0: 8 points", "main_seed0: 8 points", "main_seed1: 8 points"]
    assert sorted(p.name for p in kept.iterdir()) == ["ablation_seed0.csv", "main_seed0.csv", "main_seed1.csv"]

    curve_script = SCRIPT.with_name("curve_table.py")
    for extra in ([], ["--against", "main"]):
        tables = [subprocess.run([sys.executable, str(curve_script), str(folder), "--budget", "10000", *extra],
                                 capture_output=True, text=True).stdout for folder in (logs, kept)]  # fmt: skip
        assert tables[0] == tables[1] and "| ablation | 1 |" in tables[0]


def test_exporting_a_run_without_evaluations_is_a_one_line_error(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    write_run(tmp_path / "logs", "main_seed0", [600.0, 1200.0])  # fine on its own, but not written either
    w = SummaryWriter(tmp_path / "logs" / "smoke_seed0" / "version_0")
    w.add_scalar("train/critic_loss", 1.0, 1)
    w.close()
    out = subprocess.run([sys.executable, str(SCRIPT.with_name("export_curves.py")), str(tmp_path / "logs"),
                          str(tmp_path / "curves")], capture_output=True, text=True)  # fmt: skip
    assert out.returncode != 0
    assert out.stderr.strip().endswith("nothing to save: the run logged no 'eval/*' tags or no progress/env_steps")
    assert not list((tmp_path / "curves").glob("*.csv"))


BIAS = Path(__file__).parents[1] / "scripts" / "bias_table.py"
BIAS_HEAD = ("| checkpoint | critics | episodes (time-limited, left out) | states | mean return | Q1 − return "
             "| relative | min Q − return | avg speed km/h |\n" + "|---" + "|---:" * 8 + "|\n")


def write_bias(path, rows):
    """value_bias.py's table: (run name, relative bias) per row, or a name alone for a failed measure."""
    lines = []
    for name, *relative in rows:
        ckpt = f"lightning_logs/{name}/version_0/checkpoints/env_steps=80000.ckpt"
        if relative:
            lines.append(f"| {ckpt} | 2 | 10 (0) | 1500 | 600 | +100 | {relative[0]:+.2f} | +95 | 45 |")
        else:
            lines.append(f"| {ckpt} | 1 | no episode ended before the time limit |||||||")
    path.write_text("10 episodes ...\n\n" + BIAS_HEAD + "\n".join(lines) + "\n")


def test_bias_table_groups_runs_of_several_tables_and_compares_their_relative_bias(tmp_path):
    write_bias(tmp_path / "a.md", [("main_seed0", 0.10), ("main_seed1", 0.20), ("single_critic_seed0", 0.40)])
    write_bias(tmp_path / "b.md", [("single_critic_seed1", 0.30), ("single_critic_seed2", 0.50),
                                   ("single_critic_seed3",), ("main_seed1", 0.20)])  # fmt: skip
    run = [sys.executable, str(BIAS), str(tmp_path / "a.md"), str(tmp_path / "b.md")]
    rows = subprocess.run(run, capture_output=True, text=True).stdout.splitlines()
    # main_seed1 is in both tables once; single_critic_seed3's measure failed and is left out
    assert rows[2:] == ["| main | 2 | 15 ± 5 | +10, +20 |", "| single_critic | 3 | 40 ± 8.2 | +40, +30, +50 |"]
    against = subprocess.run([*run, "--against", "single_critic"], capture_output=True, text=True).stdout
    # single critic minus main: 40 - 15; resampled, at least 30 - 20 = 10 and at most 50 - 10 = 40
    row = against.splitlines()[-1].split(" | ")
    assert row[:4] == ["| main", "2", "15", "+25"] and row[5] == "1.00"
    low, high = (int(x) for x in row[4].strip("[]").split(", "))
    assert 10 <= low < 25 < high <= 40


def test_bias_table_pools_runs_named_apart_under_one_label_and_refuses_overlapping_labels(tmp_path):
    write_bias(tmp_path / "a.md", [("main_seed0", 0.10), ("ddpg_seed0", 0.20), ("no_delay_seed0", 0.90)])
    write_bias(tmp_path / "b.md", [("160k_main_seed3", 0.30), ("160k_ddpg_seed3", 0.40)])
    run = [sys.executable, str(BIAS), str(tmp_path / "a.md"), str(tmp_path / "b.md")]
    labels = ["--as", "main", "*main_seed*", "--as", "ddpg", "*ddpg_seed*"]
    rows = subprocess.run([*run, *labels], capture_output=True, text=True).stdout.splitlines()
    # runs are read in name order; no_delay matches no label and is left out
    assert rows[2:] == ["| main | 2 | 20 ± 10 | +30, +10 |", "| ddpg | 2 | 30 ± 10 | +40, +20 |"]
    against = subprocess.run([*run, *labels, "--against", "ddpg"], capture_output=True, text=True).stdout
    assert against.splitlines()[-1].split(" | ")[:4] == ["| main", "2", "20", "+10"]
    cases = [(["--as", "all", "*_seed*", "--as", "main", "*main_seed*"],
              "error: run 160k_main_seed3 matches more than one --as group: all, main"),
             ([*labels, "--match", "*"], "error: --as and --match both pick runs; give one")]  # fmt: skip
    for args, message in cases:
        made = subprocess.run([*run, *args], capture_output=True, text=True)
        assert made.returncode != 0 and made.stderr.strip() == message


def test_bias_table_refuses_a_run_measured_twice_differently_and_a_file_that_is_not_its_table(tmp_path):
    write_bias(tmp_path / "a.md", [("main_seed0", 0.10)])
    write_bias(tmp_path / "b.md", [("main_seed0", 0.30)])
    (tmp_path / "c.md").write_text("| policy | runs |\n")
    cases = [(["a.md", "b.md"], f"error: run main_seed0 has a different bias in {tmp_path}/a.md and {tmp_path}/b.md"),
             (["c.md"], f"error: {tmp_path}/c.md is not a table of scripts/value_bias.py"),
             (["d.md"], f"error: no such table: {tmp_path}/d.md")]  # fmt: skip
    for tables, message in cases:
        made = subprocess.run([sys.executable, str(BIAS), *(str(tmp_path / t) for t in tables)],
                              capture_output=True, text=True)  # fmt: skip
        assert made.returncode != 0 and made.stderr.strip() == message


def test_two_by_two_separates_what_each_measure_does_with_the_other_kept_and_gone(tmp_path):
    for seed, (full, ddpg, no_ln, stripped) in enumerate([(1600, 1590, 1300, 900), (1640, 1610, 1340, 940)]):
        for name, ret in [("main", full), ("ddpg", ddpg), ("no_ln", no_ln), ("stripped", stripped)]:
            write_eval(tmp_path, f"{name}_seed{seed}", ret, avg_speed_kmh=ret / 40)
    design = ["--two_by_two", "main", "ddpg", "no_ln", "stripped", "--measures", "fixes", "LN"]
    lines = table(tmp_path, *design).stdout.splitlines()
    assert lines[2] == "| main | fixes and LN | 2 | 1620 |" and lines[5] == "| stripped | neither | 2 | 920 |"
    estimates = [line.split(" | ")[:2] for line in lines[9:]]
    # the fixes are worth 20 with LN and 400 without it: LN covers for them
    assert estimates == [["| fixes, LN kept", "+20"], ["| fixes, LN gone", "+400"], ["| LN, fixes kept", "+300"],
                         ["| LN, fixes gone", "+680"],
                         ["| interaction: fixes with LN kept − fixes with LN gone", "-380"]]  # fmt: skip
    speed = table(tmp_path, *design, "--metric", "avg_speed_kmh").stdout.splitlines()
    assert speed[2] == "| main | fixes and LN | 2 | 40.5 |" and speed[9].split(" | ")[1] == "+0.5"
    cases = [(["--two_by_two", "main", "ddpg", "no_ln", "nothing"],
              "error: no runs of 'nothing' for --two_by_two (groups: ddpg, main, no_ln, stripped)"),
             (["--two_by_two", "main", "ddpg", "ddpg", "stripped"],
              "error: --two_by_two needs four different groups, got main ddpg ddpg stripped"),
             ([*design, "--against", "main"], "error: --two_by_two and --against are two different tables; give one"),
             (["--measures", "fixes", "LN"],
              "error: --measures names the measures of --two_by_two; give --two_by_two too")]  # fmt: skip
    for args, message in cases:
        made = table(tmp_path, *args)
        assert made.returncode != 0 and made.stderr.strip() == message


def test_bias_table_two_by_two_reads_the_bias_of_each_cell(tmp_path):
    write_bias(tmp_path / "a.md", [("main_seed0", 0.10), ("main_seed1", 0.20), ("ddpg_seed0", 0.30),
                                   ("no_ln_seed0", 0.0), ("stripped_seed0", 0.90), ("stripped_seed1", 0.70)])
    made = subprocess.run([sys.executable, str(BIAS), str(tmp_path / "a.md"), "--two_by_two", "main", "ddpg", "no_ln",
                           "stripped", "--measures", "twin", "LN"], capture_output=True, text=True)  # fmt: skip
    lines = made.stdout.splitlines()
    assert lines[0] == "| group | has | runs | relative bias % |" and lines[2] == "| main | twin and LN | 2 | 15 |"
    # the twin critics cut the bias by 15 with LN and by 80 without it
    assert [line.split(" | ")[1] for line in lines[9:]] == ["-15", "-80", "+15", "-50", "+65"]


def test_against_compares_another_metric_to_its_own_precision(tmp_path):
    import re

    for seed, (speed, success) in enumerate([(45.0, 1.0), (50.0, 0.9), (47.0, 0.95)]):
        write_eval(tmp_path, f"main_seed{seed}", 1600.0, success=success, avg_speed_kmh=speed)
        write_eval(tmp_path, f"ddpg_seed{seed}", 1600.0, success=success - 0.1, avg_speed_kmh=speed + 5.0)
    speed = table(tmp_path, "--against", "main", "--metric", "avg_speed_kmh").stdout.splitlines()
    assert speed[0].startswith("| policy | runs | avg speed km/h | main − policy |")
    cells = speed[2].split(" | ")
    assert cells[:4] == ["| ddpg", "3", "52.3", "-5.0"]
    low, high = (float(x) for x in re.fullmatch(r"\[(-?\d+\.\d), (-?\d+\.\d)\]", cells[4]).groups())
    assert low < -5.0 < high  # each side's seeds are resampled apart, so the interval is wider than the shift
    success = table(tmp_path, "--against", "main", "--metric", "success_rate").stdout.splitlines()[2].split(" | ")
    assert success[2:4] == ["0.85", "+0.10"] and re.fullmatch(r"\[[+-]\d\.\d\d, [+-]\d\.\d\d\]", success[4])
    alone = table(tmp_path, "--metric", "avg_speed_kmh")
    assert alone.returncode != 0 and alone.stdout == ""
    expected = "error: --metric goes with --against or --two_by_two (alone, the table has every metric)"
    assert alone.stderr.strip() == expected


def test_reasons_count_how_the_episodes_of_each_group_ended_also_when_pooled(tmp_path):
    for seed, off_road in enumerate([3, 0]):
        for step in ("78k", "80k"):
            ended = {"off_road": off_road, "time_limit": 10 - off_road} if off_road else {"time_limit": 10}
            write_eval(tmp_path, f"{step}_main_seed{seed}", 4000.0, success=0.0, termination_reasons=ended)
    lines = table(tmp_path, "--reasons", "--pool", "78k", "80k").stdout.splitlines()
    assert lines[0].endswith(" | episode length | ended by |") and lines[1].endswith("---:|---|")
    ended = {line.split(" | ")[0].strip("| "): line.split(" | ")[-1].strip(" |") for line in lines[2:]}
    assert ended == {"78k_main": "off_road 3, time_limit 17", "80k_main": "off_road 3, time_limit 17",
                     "78k+80k_main": "off_road 6, time_limit 34"}  # fmt: skip
    assert "ended by" not in table(tmp_path).stdout  # only when asked
    write_eval(tmp_path, "classical", 2000.0)  # evaluated before the reasons were kept
    old = table(tmp_path, "--reasons")
    assert old.returncode != 0 and old.stdout == ""
    assert old.stderr.strip() == "error: --reasons needs how every episode ended; classical was evaluated without it"
