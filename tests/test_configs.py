"""Every shipped config (and every ablation on top of the racetrack config) parses, with the values the
docs promise for the main config."""

from pathlib import Path

import pytest
import yaml

from lightning_td3.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").glob("*.yaml"))
ABLATIONS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "configs/ablations").glob("*.yaml"))


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
