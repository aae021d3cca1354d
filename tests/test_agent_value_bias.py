"""value_bias: the critic's Q against the discounted return its own deterministic policy then earned."""

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from lightning_td3.agent import TD3
from lightning_td3.agent.value_bias import discounted_returns, drive, value_bias
from lightning_td3.envs.contract import action_space, observation_space

torch.set_num_threads(1)
SHAPE, VECTOR = (2, 36, 36), 3


class FixedLengthEnv(gym.Env):
    """Reward t on step t; `length` steps, then terminated (or truncated)."""

    def __init__(self, length: int, truncate: bool = False) -> None:
        self.observation_space = observation_space(vector_dim=VECTOR, image_size=SHAPE[1])
        self.action_space = action_space()
        self.length, self.truncate, self.t = length, truncate, 0

    def _obs(self):
        frame = np.full((1, SHAPE[1], SHAPE[2]), 10 * self.t % 256, np.uint8)
        return {"image": frame, "vector": np.full(VECTOR, self.t, np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        done = self.t >= self.length
        return self._obs(), float(self.t), done and not self.truncate, done and self.truncate, {}


def constant_critic_agent(value: float, num_critics: int = 2) -> TD3:
    """An agent whose critic heads output `value` (head 1) and `value + 10` (head 2) everywhere."""
    torch.manual_seed(0)
    agent = TD3(image_shape=SHAPE, vector_dim=VECTOR, feature_dim=8, hidden_dim=16, encoder="shared",
                num_critics=num_critics, gamma=0.9).eval()  # fmt: skip
    with torch.no_grad():
        for i, head in enumerate(agent.critic.heads):
            head[-1].weight.zero_()
            head[-1].bias.fill_(value + 10 * i)
    return agent


def test_discounted_returns_match_the_sum_over_the_rest_of_the_episode():
    rewards = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(discounted_returns(rewards, 0.5), [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3])
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=20)
    naive = [sum(0.97**k * r for k, r in enumerate(rewards[t:])) for t in range(20)]
    np.testing.assert_allclose(discounted_returns(rewards, 0.97), naive, rtol=1e-12)


def test_drive_records_the_states_the_policy_acted_on():
    agent = constant_critic_agent(0.0)
    trajectory = drive(agent, FixedLengthEnv(length=4), seed=0)
    assert trajectory.images.shape == (4, *SHAPE) and trajectory.images.dtype == np.uint8
    np.testing.assert_array_equal(trajectory.vectors[:, 0], [0, 1, 2, 3])  # the observation before each step
    np.testing.assert_array_equal(trajectory.images[2, :, 0, 0], [10, 20])  # stacked frames of steps 1 and 2
    np.testing.assert_allclose(trajectory.actions[1], agent.act({"image": trajectory.images[1],
                                                                 "vector": trajectory.vectors[1]}))  # fmt: skip
    np.testing.assert_array_equal(trajectory.rewards, [1, 2, 3, 4])
    assert not trajectory.truncated and trajectory.stats.episode_return == 10
    assert drive(agent, FixedLengthEnv(length=4, truncate=True), seed=0).truncated


def test_bias_is_q_minus_the_return_averaged_over_states():
    agent = constant_critic_agent(5.0)
    short, long = drive(agent, FixedLengthEnv(2), seed=0), drive(agent, FixedLengthEnv(3), seed=0)
    returns = np.concatenate([[1 + 0.9 * 2, 2], [1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3]])
    result = value_bias(agent, [short, long], chunk=2)  # chunks smaller than an episode
    assert (result.states, result.episodes, result.truncated) == (5, 2, 0)
    assert result.mean_return == pytest.approx(returns.mean())
    assert result.q1_bias == pytest.approx(5.0 - returns.mean())
    assert result.min_q_bias == pytest.approx(5.0 - returns.mean())  # head 2 is 10 higher: the min is head 1
    assert result.relative_q1_bias == pytest.approx((5.0 - returns.mean()) / returns.mean())


def test_one_critic_has_the_same_min_and_q1_bias():
    agent = constant_critic_agent(-1.0, num_critics=1)
    result = value_bias(agent, [drive(agent, FixedLengthEnv(3), seed=0)])
    assert result.min_q_bias == result.q1_bias == pytest.approx(-1.0 - (1 + 0.9 * 2 + 0.81 * 3 + 2 + 0.9 * 3 + 3) / 3)


def test_time_limited_episodes_are_left_out():
    agent = constant_critic_agent(0.0)
    cut = drive(agent, FixedLengthEnv(5, truncate=True), seed=0)
    result = value_bias(agent, [cut, drive(agent, FixedLengthEnv(1), seed=0)])
    assert (result.states, result.episodes, result.truncated, result.mean_return) == (1, 1, 1, 1.0)
    with pytest.raises(ValueError, match="every one hit the time limit"):
        value_bias(agent, [cut])


SCRIPT = Path(__file__).parents[1] / "scripts" / "value_bias.py"


@pytest.mark.parametrize(("args", "message"), [
    (["--ckpt", "no/such.ckpt"], "error: checkpoint not found: no/such.ckpt"),
    (["--ckpt", __file__, "--episodes", "0"], "error: --episodes must be >= 1, got 0"),
    (["--ckpt", __file__, "--config", "no/such.yaml"],
     "error: cannot read no/such.yaml: [Errno 2] No such file or directory: 'no/such.yaml'"),
])  # fmt: skip
def test_script_rejects_bad_input_in_one_line(args, message):
    result = subprocess.run([sys.executable, str(SCRIPT), "--config", "configs/racetrack.yaml", *args],
                            capture_output=True, text=True, cwd=SCRIPT.parents[1])  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == message
