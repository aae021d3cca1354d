"""`gym:<id>`: any gymnasium env with an image observation behind the driving contract.

Observation: the env's frame converted to grayscale and resized to 84x84 (cv2 INTER_AREA); the vector
is empty (D = 0): a generic env has no lane or route to derive one from.
Action: [steer, throttle_brake] in [-1, 1]. A 3-dim action space is read as [steer, gas, brake]
(CarRacing): gas = max(throttle_brake, 0), brake = max(-throttle_brake, 0), each scaled to its bounds.
A 2-dim Box is rescaled from [-1, 1] to its bounds as is.
Reward: the env's own, reported as the single term {"env": r}.
Info: speed and distance where the env exposes a car (CarRacing's Box2D hull), route completion from
CarRacing's visited track tiles; `lap_finished` -> route_completed, any other termination -> env_terminated
(CarRacing terminates that way when the car leaves the playfield, so it is also flagged off-road).
"""

from __future__ import annotations

from typing import Any

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightning_td3.envs import contract
from lightning_td3.envs.contract import DrivingState


def to_gray_frame(frame: np.ndarray, size: int = contract.IMAGE_SIZE) -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 uint8 -> uint8 [1, size, size] (area interpolation, as the reference)."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        frame = cv2.cvtColor(np.ascontiguousarray(frame[:, :, :3]), cv2.COLOR_RGB2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    elif frame.ndim != 2:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)[None]


def _scale(x: float, low: float, high: float) -> float:
    """[-1, 1] -> [low, high]."""
    return low + (x + 1.0) * 0.5 * (high - low)


class GymPixelAdapter(gym.Env):
    """Wraps `gymnasium.make(env_id, **env_kwargs)`; see the module docstring for the mapping."""

    def __init__(self, env_id: str, image_size: int = contract.IMAGE_SIZE, **env_kwargs: Any) -> None:
        self.env = gym.make(env_id, **env_kwargs)
        self.env_id = env_id
        obs_space, act_space = self.env.observation_space, self.env.action_space
        if not (isinstance(obs_space, spaces.Box) and len(obs_space.shape) in (2, 3)):
            raise ValueError(f"gym:{env_id} needs an image (HxW or HxWxC Box) observation, got {obs_space}")
        if not (isinstance(act_space, spaces.Box) and act_space.shape in ((2,), (3,))):
            raise ValueError(f"gym:{env_id} needs a Box action of 2 or 3 dims, got {act_space}")
        self.image_size = image_size
        self.observation_space = contract.observation_space(0, image_size)
        self.action_space = contract.action_space()
        self.metadata = {"render_modes": [], "render_fps": self.env.metadata.get("render_fps", 50)}
        self.dt = 1.0 / float(self.metadata["render_fps"])
        self.distance = 0.0

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """[steer, throttle_brake] in [-1, 1] -> the wrapped env's action."""
        steer, throttle_brake = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        space = self.env.action_space
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        if space.shape == (3,):
            gas, brake = max(throttle_brake, 0.0), max(-throttle_brake, 0.0)
            out = [_scale(steer, low[0], high[0]), low[1] + gas * (high[1] - low[1]),
                   low[2] + brake * (high[2] - low[2])]
        else:
            out = [_scale(steer, low[0], high[0]), _scale(throttle_brake, low[1], high[1])]
        return np.asarray(out, dtype=space.dtype)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        frame, _ = self.env.reset(seed=seed, options=options)
        self.distance = 0.0
        state = self._state(terminated=False, lap_finished=False)
        info = contract.make_info(state, {"env": 0.0}, 0.0, contract.RUNNING, False)
        return self._obs(frame), info

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        frame, reward, terminated, truncated, env_info = self.env.step(self.env_action(action))
        lap_finished = bool(env_info.get("lap_finished", False))
        state = self._state(terminated, lap_finished)
        self.distance += abs(state.speed) * self.dt
        if terminated:
            reason = contract.ROUTE_COMPLETED if lap_finished else contract.ENV_TERMINATED
        else:
            reason = contract.TIME_LIMIT if truncated else contract.RUNNING
        success = terminated and lap_finished
        info = contract.make_info(state, {"env": float(reward)}, self.distance, reason, success)
        return self._obs(frame), float(reward), bool(terminated), bool(truncated), info

    def close(self) -> None:
        self.env.close()

    def _obs(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        return {"image": to_gray_frame(frame, self.image_size), "vector": np.zeros(0, np.float32)}

    def _state(self, terminated: bool, lap_finished: bool) -> DrivingState:
        """What can be known generically; CarRacing exposes its car and its visited track tiles."""
        sim = self.env.unwrapped
        state = DrivingState()
        car = getattr(sim, "car", None)
        if car is not None:
            velocity = np.array(car.hull.linearVelocity)
            state.speed = float(velocity @ np.array([-np.sin(car.hull.angle), np.cos(car.hull.angle)]))
        track = getattr(sim, "track", None)
        if track is not None and hasattr(sim, "tile_visited_count"):
            state.route_progress, state.route_length = float(sim.tile_visited_count), float(len(track))
            state.off_road = terminated and not lap_finished
            state.goal_reached = lap_finished
        return state
