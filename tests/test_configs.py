"""Every shipped config (and every ablation on top of the racetrack config) parses, with the values the
docs promise for the main config."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lightning import Trainer

from lightning_td3.agent.td3 import TD3
from lightning_td3.cli import TD3CLI, TRAINER_DEFAULTS, main
from lightning_td3.config_files import ConfigFileError, read_config_files, read_tool_inputs
from lightning_td3.data import TD3DataModule

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").glob("*.yaml"))
ABLATIONS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs/ablations").glob("*.yaml"))
TRAFFIC = "configs/overlays/racetrack_traffic.yaml"
CAREFUL = "configs/overlays/racetrack_traffic_careful.yaml"
SMOOTH = "configs/overlays/smooth_actor.yaml"
SHIFT = "configs/overlays/random_shift.yaml"
HEADING = "configs/overlays/racetrack_traffic_heading.yaml"
FIXED_TIME = "configs/overlays/eval_fixed_time.yaml"
ONE_UPDATE = "configs/overlays/one_update_per_step.yaml"


def printed_config(capsys, *configs: str) -> dict:
    args = ["fit"] + [arg for c in configs for arg in ("--config", str(ROOT / c))] + ["--print_config"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (None, 0), capsys.readouterr().err[-2000:]
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize("config", CONFIGS)
def test_shipped_config_parses(config, capsys):
    assert printed_config(capsys, config)["model"]


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_ablation_overlays_change_only_their_component(ablation, capsys):
    base = printed_config(capsys, "configs/racetrack.yaml")
    ablated = printed_config(capsys, "configs/racetrack.yaml", ablation)
    changed = {k for k in base["model"] if base["model"][k] != ablated["model"][k]}
    expected = {
        "configs/ablations/no_layernorm.yaml": {"layer_norm", "layer_norm_gain"},
        "configs/ablations/single_critic.yaml": {"num_critics"},
        "configs/ablations/no_delay.yaml": {"policy_delay"},
        "configs/ablations/ddpg.yaml": {"num_critics", "policy_delay", "policy_noise"},
    }[ablation]
    assert changed == expected
    assert {k for k in base["data"] if base["data"][k] != ablated["data"][k]} == set()


def test_racetrack_config_is_the_documented_main_config(capsys):
    model = printed_config(capsys, "configs/racetrack.yaml")["model"]
    assert (model["encoder"], model["feature_dim"], model["layer_norm"]) == ("shared", 50, True)
    assert model["layer_norm_gain"] == 0.1
    assert (model["actor_mlp_lr"], model["critic_mlp_lr"], model["critic_cnn_lr"]) == (1e-3, 1e-3, 1e-4)


def test_traffic_overlay_changes_only_the_env_traffic(capsys):
    base = printed_config(capsys, "configs/racetrack.yaml")
    traffic = printed_config(capsys, "configs/racetrack.yaml", TRAFFIC)
    assert traffic["model"] == base["model"]
    assert {k for k in base["data"] if base["data"][k] != traffic["data"][k]} == {"env_kwargs"}
    assert traffic["data"]["env_kwargs"] == {**base["data"]["env_kwargs"], "scenario": 2}


def test_careful_traffic_overlay_only_prices_collisions_higher(capsys):
    traffic = printed_config(capsys, "configs/racetrack.yaml", TRAFFIC)
    careful = printed_config(capsys, "configs/racetrack.yaml", CAREFUL)
    assert careful["model"] == traffic["model"]
    assert {k for k in traffic["data"] if traffic["data"][k] != careful["data"][k]} == {"env_kwargs"}
    prices = {"collision_penalties": [-20.0, -100.0, -400.0]}
    assert careful["data"]["env_kwargs"] == {**traffic["data"]["env_kwargs"], "reward": prices}

    from lightning_td3.envs.contract import DrivingState
    from lightning_td3.envs.racetrack import RacetrackEnv

    env = RacetrackEnv(**careful["data"]["env_kwargs"])  # the env, not just the parser, takes the prices
    try:
        state = DrivingState(speed=8.0, collision_intensity=1.0, collision_speed=8.0)
        assert env.reward_fn.safety(state) == pytest.approx(-400.0)
    finally:
        env.close()


def test_heading_overlay_only_turns_the_traffic_frame_for_training_and_evaluation(capsys):
    traffic = printed_config(capsys, "configs/racetrack.yaml", TRAFFIC)
    heading = printed_config(capsys, "configs/racetrack.yaml", HEADING)
    assert heading["model"] == traffic["model"]
    assert {k for k in traffic["data"] if traffic["data"][k] != heading["data"][k]} == {"env_kwargs"}
    assert heading["data"]["env_kwargs"] == {**traffic["data"]["env_kwargs"], "frame": "heading"}

    data = TD3DataModule(**heading["data"])
    assert data.eval_env_kwargs["frame"] == "heading"  # evaluation sees what training saw


@pytest.mark.parametrize("under", [(), (TRAFFIC,)])
def test_fixed_time_overlay_only_lengthens_the_evaluation_route(under, capsys):
    base = printed_config(capsys, "configs/racetrack.yaml", *under)
    fixed = printed_config(capsys, "configs/racetrack.yaml", *under, FIXED_TIME)
    assert fixed["model"] == base["model"]
    assert {k for k in base["data"] if base["data"][k] != fixed["data"][k]} == {"eval_env_kwargs"}
    assert fixed["data"]["eval_env_kwargs"] == {**base["data"]["eval_env_kwargs"], "route_length": 100000.0}

    data = TD3DataModule(**fixed["data"])  # training episodes stay one lap; evaluation keeps the training traffic
    assert data.eval_env_kwargs["route_length"] == 100000.0 and "route_length" not in data.env_kwargs
    assert data.eval_env_kwargs.get("scenario") == base["data"]["env_kwargs"].get("scenario")


def trainer_of(*configs: str) -> Trainer:
    args = [arg for c in configs for arg in ("--config", str(ROOT / c))] + ["--trainer.logger", "false"]
    cli = TD3CLI(TD3, TD3DataModule, subclass_mode_model=False, subclass_mode_data=False,
                 trainer_defaults=TRAINER_DEFAULTS, run=False, args=args)  # fmt: skip
    return cli.trainer


def test_one_update_per_step_overlay_keeps_the_compute_and_the_env_step_cadence(capsys):
    base = printed_config(capsys, "configs/racetrack.yaml", "configs/ablations/ddpg.yaml")
    utd1 = printed_config(capsys, "configs/racetrack.yaml", "configs/ablations/ddpg.yaml", ONE_UPDATE)
    assert utd1["model"] == base["model"]
    assert {k for k in base["data"] if base["data"][k] != utd1["data"][k]} == {"env_steps_per_update", "max_env_steps"}

    def updates(data: dict) -> float:
        return (data["max_env_steps"] - data["learning_starts"]) / data["env_steps_per_update"]

    assert (updates(base["data"]), updates(utd1["data"])) == (39_000, 38_000)  # the same hour of compute
    # evaluations stay every 2000 env steps: twice the updates between them
    assert base["eval_every_env_steps"] == utd1["eval_every_env_steps"] == 2000
    assert trainer_of("configs/racetrack.yaml").val_check_interval == 1000
    assert trainer_of("configs/racetrack.yaml", ONE_UPDATE).val_check_interval == 2000


@pytest.mark.parametrize("overlay, key, value", [(SMOOTH, "action_smoothness", 0.01), (SHIFT, "image_shift", 4)])
@pytest.mark.parametrize("under", [(), (TRAFFIC,), ("configs/ablations/ddpg.yaml", TRAFFIC)])
def test_model_overlays_change_only_their_own_key(under, overlay, key, value, capsys):
    base = printed_config(capsys, "configs/racetrack.yaml", *under)
    changed = printed_config(capsys, "configs/racetrack.yaml", *under, overlay)
    assert base["model"][key] == 0
    assert {k: v for k, v in changed["model"].items() if base["model"][k] != v} == {key: value}
    assert changed["data"] == base["data"]


@pytest.mark.parametrize("configs", [
    ("configs/racetrack.yaml",),
    ("configs/racetrack.yaml", TRAFFIC),
    ("configs/racetrack.yaml", "configs/ablations/ddpg.yaml", TRAFFIC),
    ("configs/racetrack.yaml", TRAFFIC, "configs/ablations/no_layernorm.yaml"),
    ("configs/carla_town01.yaml", "configs/carla_town01_scenario2.yaml"),
])  # fmt: skip
def test_evaluation_scripts_layer_configs_as_fit_does(configs, capsys, tmp_path):
    partial = tmp_path / "partial.yaml"  # a later env_kwargs replaces the earlier one whole, as in `fit`
    partial.write_text("seed_everything: 3\ndata:\n  env_kwargs: {scenario: 1}\n")
    for layers in (configs, (*configs, str(partial))):
        fit = printed_config(capsys, *layers)
        read = read_config_files([ROOT / c for c in layers])
        assert read["seed_everything"] == fit["seed_everything"]
        assert read["data"].get("env", "racetrack") == fit["data"]["env"]
        assert read["data"]["env_kwargs"] == fit["data"]["env_kwargs"]
        assert read["data"]["eval_env_kwargs"] == fit["data"]["eval_env_kwargs"]


def test_unreadable_config_is_a_one_line_error(tmp_path):
    (tmp_path / "list.yaml").write_text("- data\n- model\n")
    with pytest.raises(ConfigFileError, match="list.yaml: expected a mapping of sections, got list"):
        read_config_files([ROOT / "configs/racetrack.yaml", tmp_path / "list.yaml"])
    missing = tmp_path / "missing.yaml"
    result = subprocess.run([sys.executable, "-m", "lightning_td3.baselines", "--config", "configs/racetrack.yaml",
                             "--config", str(missing)], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: cannot read {missing}: ") and len(result.stderr.splitlines()) == 1


def test_tool_inputs_are_checked_before_any_work_episodes_then_checkpoints_then_configs(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_bytes(b"")
    racetrack = ROOT / "configs/racetrack.yaml"
    assert read_tool_inputs([racetrack], [ckpt], episodes=1) == read_config_files([racetrack])
    with pytest.raises(ConfigFileError, match=r"^--episodes must be >= 1, got 0$"):
        read_tool_inputs([tmp_path / "missing.yaml"], [tmp_path / "missing.ckpt"], episodes=0)
    with pytest.raises(ConfigFileError, match=r"^checkpoint not found: .*missing.ckpt$"):
        read_tool_inputs([tmp_path / "missing.yaml"], [ckpt, tmp_path / "missing.ckpt"])
    with pytest.raises(ConfigFileError, match=r"^cannot read .*missing.yaml: "):
        read_tool_inputs([tmp_path / "missing.yaml"], [ckpt])
