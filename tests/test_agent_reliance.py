"""input_reliance: permutation importance of pixels vs the kinematic vector for the actor and the critic."""

import pytest
import torch

from lightning_td3.agent import TD3
from lightning_td3.agent.reliance import input_reliance

torch.set_num_threads(1)
SHAPE, FEATURES, VECTOR = (4, 36, 36), 8, 5


def agent_and_states(encoder="shared", n=16):
    torch.manual_seed(0)
    agent = TD3(image_shape=SHAPE, vector_dim=VECTOR, feature_dim=FEATURES, hidden_dim=16, encoder=encoder).eval()
    images = torch.randint(0, 256, (n, *SHAPE), dtype=torch.uint8)
    return agent, images, torch.randn(n, VECTOR)


def zero_inputs(linear: torch.nn.Linear, columns: slice) -> None:
    with torch.no_grad():
        linear.weight[:, columns] = 0.0


@pytest.mark.parametrize("encoder", ["shared", "separate"])
def test_a_head_blind_to_one_part_shows_zero_reliance_on_it(encoder):
    agent, images, vectors = agent_and_states(encoder)
    both = input_reliance(agent, images, vectors)
    assert min(both.action_change_pixels, both.action_change_vector, both.q_change_pixels, both.q_change_vector) > 0
    assert 0 < both.pixel_share < 1

    zero_inputs(agent.actor.net[0], slice(0, FEATURES))  # the actor no longer reads pixels
    zero_inputs(agent.critic.heads[0][0], slice(FEATURES, FEATURES + VECTOR))  # Q1 no longer reads the vector
    blind = input_reliance(agent, images, vectors)
    assert blind.action_change_pixels == 0 and blind.pixel_share == 0
    assert blind.action_change_vector > 0
    assert blind.q_change_vector == 0  # Q1 is evaluated at the unchanged action: its own reliance only
    assert blind.q_change_pixels > 0


def test_reliance_matches_a_naive_loop_for_the_actor():
    agent, images, vectors = agent_and_states(n=5)
    result = input_reliance(agent, images, vectors, seed=3)
    # recover the permutation the measure used: the seed's random n-cycle
    order = torch.randperm(5, generator=torch.Generator().manual_seed(3))
    perm = {int(order[i]): int(order[(i + 1) % 5]) for i in range(5)}
    assert all(perm[i] != i for i in range(5))
    with torch.no_grad():
        features = agent.critic_encoder(images)
        naive = 0.0
        for i in range(5):
            a = agent.actor(torch.cat([features[i], vectors[i]])[None])
            swapped = agent.actor(torch.cat([features[perm[i]], vectors[i]])[None])
            naive += float((swapped - a).norm()) / 5
    assert result.action_change_pixels == pytest.approx(naive, rel=1e-5)
    assert result.feature_l2 == pytest.approx(float(features.norm(dim=-1).mean()), rel=1e-6)


def test_reliance_needs_two_states():
    agent, images, vectors = agent_and_states(n=1)
    with pytest.raises(ValueError, match="need >= 2 states"):
        input_reliance(agent, images, vectors)


def test_the_script_rejects_a_missing_checkpoint_in_one_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "scripts" / "input_reliance.py"
    args = [sys.executable, str(script), "--config", "configs/racetrack.yaml", "--ckpt", str(tmp_path / "nope.ckpt")]
    out = subprocess.run(args, capture_output=True, text=True, cwd=script.parents[1])
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: checkpoint not found: {tmp_path / 'nope.ckpt'}"


def test_the_script_only_changes_hyperparameters_of_untrained_agents(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "scripts" / "input_reliance.py"
    ckpt = tmp_path / "a.ckpt"
    ckpt.write_bytes(b"")
    args = [sys.executable, str(script), "--config", "configs/racetrack.yaml", "--ckpt", str(ckpt), "--set", "tau=0.1"]
    out = subprocess.run(args, capture_output=True, text=True, cwd=script.parents[1])
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --set changes the hyperparameters of untrained agents: it needs --fresh N"
