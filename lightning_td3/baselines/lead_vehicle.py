"""Does a policy react to the car ahead? Its action and value with that car in its frames and with it erased.

In traffic the learned policies rear-end slower cars. The kinematic vector holds no other vehicles, so a
policy can only know of the car ahead from its pixels; whether it does cannot be read from its crashes. This
asks directly: on the same states, every frame of the stack is rendered twice, as it is and with the lead
vehicle erased (`RacetrackEnv.frame_without`), and the actor and the first critic are run on both. A policy
that perceives the car brakes with it in view (throttle_brake lower) and its critic values the state lower;
one that does not acts the same on both. The states come from the classical controller's laps (it is blind to
traffic and drives at its target speed, so it closes on slower cars), the same for every checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lightning_td3.agent.td3 import TD3
from lightning_td3.envs.racetrack import RacetrackEnv
from lightning_td3.rollout.episodes import FrameStacker

GAP_BINS = (0.0, 4.0, 8.0, 12.0, float("inf"))  # m of free gap to the lead vehicle


@dataclass
class PairedStates:
    """States with the lead vehicle in view: the frames as seen and with the lead erased, same vectors."""

    images: np.ndarray  # uint8 [N, S, H, W], as seen
    images_erased: np.ndarray  # uint8 [N, S, H, W], the lead vehicle erased from every frame of the stack
    vectors: np.ndarray  # float32 [N, D]
    gaps: np.ndarray  # [N] m, free distance to the lead
    closing: np.ndarray  # [N] m/s, how fast the gap shrinks (ego speed minus the lead's along the ego's heading)


def collect_paired_states(
    env: RacetrackEnv,
    act: Callable[[dict[str, np.ndarray]], np.ndarray],
    episodes: int,
    seed: int,
    frame_stack: int,
) -> PairedStates:
    """Drives `episodes` episodes (seeds seed, seed+1, ...) with `act` and keeps every state whose lead vehicle
    shows in the frame, each with its counterfactual twin."""
    images, erased, vectors, gaps, closing = [], [], [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        seen = FrameStacker(frame_stack)
        seen.reset(obs["image"])
        # one stack per other vehicle, with that vehicle erased from every frame (the fleet is fixed in an episode)
        without = {id(v): FrameStacker(frame_stack) for v in env.other_vehicles()}
        _push_erased(env, without, obs["image"], reset=True)
        while True:
            lead = env.lead_vehicle()
            if lead is not None and any(lead is v for v in env.other_vehicles(visible_only=True)):
                twin = without[id(lead)].stacked()
                stacked = seen.stacked()
                if not np.array_equal(twin, stacked):  # in reach but not drawn yet: nothing to compare
                    ego = env.sim.vehicle
                    images.append(stacked)
                    erased.append(twin)
                    vectors.append(obs["vector"].copy())
                    gaps.append(info["state"]["obstacle_distance"])  # the env's own gap to this lead
                    closing.append(ego.speed - lead.speed * np.cos(lead.heading - ego.heading))
            obs, _, terminated, truncated, info = env.step(act({"image": seen.stacked(), "vector": obs["vector"]}))
            seen.push(obs["image"])
            _push_erased(env, without, obs["image"], reset=False)
            if terminated or truncated:
                break
    shape = (0, frame_stack, *env.observation_space["image"].shape[1:])
    return PairedStates(
        np.stack(images) if images else np.zeros(shape, np.uint8),
        np.stack(erased) if erased else np.zeros(shape, np.uint8),
        np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, env.observation_space["vector"].shape[0]),
                                                                      np.float32),
        np.asarray(gaps, dtype=np.float64),
        np.asarray(closing, dtype=np.float64),
    )


def _push_erased(env: RacetrackEnv, stacks: dict[int, FrameStacker], frame: np.ndarray, reset: bool) -> None:
    visible = env.other_vehicles(visible_only=True)
    for vehicle in env.other_vehicles():
        # a vehicle out of reach is not in the frame: erasing it changes nothing, so skip the render
        twin = env.frame_without([vehicle]) if any(vehicle is v for v in visible) else frame
        (stacks[id(vehicle)].reset if reset else stacks[id(vehicle)].push)(twin)


@dataclass(frozen=True)
class LeadResponse:
    """How a policy's output moves when the lead vehicle is erased, over the states of one gap bin."""

    gap_low: float
    gap_high: float
    states: int
    throttle_seen: float  # mean throttle_brake with the lead in the frames
    throttle_erased: float  # ... with it erased
    brakes_for_it: float  # share of states whose throttle_brake is lower by more than 0.1 with the lead in view
    steer_change: float  # mean |steer(seen) - steer(erased)|
    value_seen: float  # mean Q1(s, mu(s)) with the lead in the frames
    value_erased: float
    # how far erasing the lead moves the critic encoder's features, against how far apart two of these states'
    # features are on average: ~0 means the encoder does not represent the car at all
    feature_shift: float

    @property
    def throttle_drop(self) -> float:
        """How much less throttle the lead vehicle draws (> 0: the policy slows for it)."""
        return self.throttle_erased - self.throttle_seen


@torch.no_grad()
def _forward(agent: TD3, images: np.ndarray, vectors: np.ndarray, batch: int = 256) -> tuple[np.ndarray, ...]:
    """Actions, values Q1(s, mu(s)) and critic encoder features."""
    actions, values, features = [], [], []
    for i in range(0, len(images), batch):
        image = torch.as_tensor(images[i : i + batch], device=agent.device)
        vector = torch.as_tensor(vectors[i : i + batch], device=agent.device)
        feature = agent.critic_encoder(image)
        critic_state = torch.cat([feature, vector], dim=-1)
        actor_state = critic_state if agent.shared else agent.encode_state(agent.actor_encoder, image, vector)
        features.append(feature.float().cpu().numpy())
        action = agent.actor(actor_state)
        actions.append(action.float().cpu().numpy())
        values.append(agent.critic.q1(critic_state, action).float().cpu().numpy())
    return np.concatenate(actions), np.concatenate(values), np.concatenate(features)


def lead_response(agent: TD3, states: PairedStates, bins: Sequence[float] = GAP_BINS) -> list[LeadResponse]:
    """One row per gap bin [low, high) that holds states, then one over all states (low 0, high inf)."""
    if len(states.gaps) == 0:
        return []
    action_seen, value_seen, feature_seen = _forward(agent, states.images, states.vectors)
    action_erased, value_erased, feature_erased = _forward(agent, states.images_erased, states.vectors)
    shift = np.linalg.norm(feature_seen - feature_erased, axis=-1)
    # the typical distance between two of these states' features: each against the one half the set away (the
    # states are in driving order, so not its neighbour in time)
    spread = float(np.linalg.norm(feature_seen - np.roll(feature_seen, len(shift) // 2, axis=0), axis=-1).mean())
    edges = [*zip(bins[:-1], bins[1:], strict=True), (0.0, float("inf"))]
    rows = []
    for low, high in edges:
        mask = (states.gaps >= low) & (states.gaps < high)
        if not mask.any():
            continue
        throttle_seen, throttle_erased = action_seen[mask, 1], action_erased[mask, 1]
        rows.append(LeadResponse(
            float(low), float(high), int(mask.sum()),
            float(throttle_seen.mean()), float(throttle_erased.mean()),
            float((throttle_seen < throttle_erased - 0.1).mean()),
            float(np.abs(action_seen[mask, 0] - action_erased[mask, 0]).mean()),
            float(value_seen[mask].mean()), float(value_erased[mask].mean()),
            float(shift[mask].mean() / spread) if spread > 0 else float("nan"),
        ))
    return rows


def markdown_table(rows_by_policy: Sequence[tuple[str, list[LeadResponse]]]) -> str:
    """One row per policy and gap bin; V change is relative to V with the lead erased."""
    lines = ["| policy | gap m | states | throttle_brake, lead seen | lead erased | drop | brakes for it "
             "| steer change | V, lead seen | lead erased | V change | feature shift |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, rows in rows_by_policy:
        for i, r in enumerate(rows):  # the last row of each policy is the one over all states
            gap = "all" if i == len(rows) - 1 else (
                f"{r.gap_low:.0f}+" if np.isinf(r.gap_high) else f"{r.gap_low:.0f}–{r.gap_high:.0f}")
            change = (r.value_seen - r.value_erased) / max(abs(r.value_erased), 1e-8)
            lines.append(f"| {name} | {gap} | {r.states} | {r.throttle_seen:+.2f} | {r.throttle_erased:+.2f} "
                         f"| {r.throttle_drop:+.2f} | {r.brakes_for_it:.0%} | {r.steer_change:.2f} "
                         f"| {r.value_seen:.0f} | {r.value_erased:.0f} | {change:+.1%} | {r.feature_shift:.3f} |")
    return "\n".join(lines)
