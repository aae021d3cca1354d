import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "eval_table.py"


def write_eval(folder, name, ret, success=1.0):
    keys = dict(return_mean=ret, return_std=10.0, success_rate=success, route_completion_mean=1.0, avg_speed_kmh=30.0,
                collisions_per_km=0.0, lane_invasions_per_km=0.0, episode_length_mean=200.0)  # fmt: skip
    (folder / f"eval_{name}.json").write_text(json.dumps(keys))


def table(folder, *args):
    return subprocess.run([sys.executable, str(SCRIPT), str(folder), *args], capture_output=True, text=True)


def test_seeds_are_grouped_and_compared_against_the_named_group(tmp_path):
    for seed, ret in enumerate([1500.0, 1700.0, 1600.0]):
        write_eval(tmp_path, f"main_seed{seed}", ret)
    write_eval(tmp_path, "ablation_ddpg_seed0", -20.0, success=0.0)
    for seed, ret in enumerate([1650.0, 1550.0]):
        write_eval(tmp_path, f"ablation_no_layernorm_seed{seed}", ret)

    metrics = table(tmp_path).stdout.splitlines()
    assert "| main | 3 | 1.6e+03 ± 82 | 1 ± 0 |" in metrics[-1]
    assert "| ablation_ddpg | 1 | -20 ± 10 (episodes) | 0 |" in metrics[2]

    rows = {line.split(" | ")[0].strip("| "): line for line in table(tmp_path, "--against", "main").stdout.splitlines()}
    assert "main" not in rows
    assert rows["ablation_ddpg"].endswith("| 1 | -20 | +1620 | [+1520, +1720] | 1.00 |")
    # the ddpg interval is main's seed spread: a mean of three resampled seeds falls below 1520 or above 1720
    # with probability 1/27 each, more than 2.5 %.
    # no_layernorm: equal means, and main wins 3 of the 6 seed pairs (1700 beats both, 1600 beats 1550)
    row = rows["ablation_no_layernorm"].split(" | ")
    assert row[1:4] == ["2", "1600", "+0"] and row[-1] == "0.50 |"
    low, high = (int(x) for x in row[4].strip("[]").split(", "))
    assert -200 < low < 0 < high < 200

def test_an_unknown_group_is_a_one_line_error(tmp_path):
    write_eval(tmp_path, "main_seed0", 1.0)
    result = table(tmp_path, "--against", "mian")
    assert result.returncode != 0
    assert result.stderr.strip() == "error: no evaluations of 'mian' (groups: main)"
