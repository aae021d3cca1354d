"""A policy's collisions one by one: whom it hit, from where, and what it did in the steps before.

Collisions per km say how often a policy crashes in traffic, not how. A rear-end collision with the gap
closing step after step means the policy did not slow to the car ahead (which it can only see in the pixels:
the kinematic vector has no other vehicles); a sideways one points at lane changes and cut-ins; being hit
from behind points at the other drivers. The mean change of each action per step shows bang-bang control,
which cannot hold a gap however hard it brakes on single steps. Needs an env that reports
`state.extra["collision_other"]` in its info (the racetrack does).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from lightning_td3.rollout.episodes import run_episode

KINDS = ("rear_end", "sideways", "hit_from_behind")
# a rear-end collision's vehicle was ahead in the ego's lane on 2 of the 3 steps before it (a weaving ego
# loses a vehicle ahead from its lane band for a step now and then)
SETTLED = (2, 3)


def collision_kind(forward: float, lateral: float, half_lane_width: float, gaps_before: tuple[float, ...]) -> str:
    """`forward`/`lateral`: the other vehicle's centre in the ego's frame (m); `gaps_before`: the free distance
    ahead in the ego's lane on the steps before the crash (inf: no vehicle there), oldest first.

    rear_end: the ego ran into a vehicle that had been ahead in its lane; hit_from_behind: one in its lane behind
    it ran into it; sideways: the two came together across lanes (a lane change, a cut-in, a swerve).
    """
    if abs(lateral) >= half_lane_width:
        return "sideways"
    if forward <= 0:
        return "hit_from_behind"
    needed, window = SETTLED
    settled = int(np.isfinite(gaps_before[-window:]).sum()) >= needed
    return "rear_end" if settled else "sideways"


@dataclass(frozen=True)
class Collision:
    episode: int
    step: int
    kind: str
    ego_speed: float  # m/s
    other_speed: float  # m/s
    forward: float  # m, the other vehicle's centre ahead of the ego's
    lateral: float  # m
    gaps: tuple[float, ...]  # free distance to the vehicle ahead in the ego's lane (inf: none), oldest first
    throttles: tuple[float, ...]  # the policy's throttle_brake on those steps (the last one is the crash step)


@dataclass
class CollisionReport:
    collisions: list[Collision]
    endings: Counter  # termination reason -> episodes
    steps: int
    # mean |change| of each action component from one step to the next, within episodes
    steer_change: float
    throttle_change: float


class _EpisodeWatch:
    """`run_episode`'s on_step for one episode: its actions, the recent gaps and throttles, its collisions."""

    def __init__(self, episode: int, history: int) -> None:
        self.episode = episode
        self.actions: list[np.ndarray] = []
        self.recent: deque[tuple[float, float]] = deque(maxlen=history)  # (gap ahead, throttle) per step
        self.collisions: list[Collision] = []

    def __call__(self, action: np.ndarray, info: dict) -> None:
        self.actions.append(np.asarray(action, dtype=np.float64))
        state = info["state"]
        self.recent.append((float(state["obstacle_distance"]), float(self.actions[-1][1])))
        other = state["extra"].get("collision_other") if info["events"]["collision"] else None
        if other is None:
            return
        gaps, throttles = (tuple(column) for column in zip(*self.recent, strict=True))
        kind = collision_kind(other["forward_m"], other["lateral_m"], state["half_lane_width"], gaps[:-1])
        self.collisions.append(Collision(self.episode, len(self.actions), kind, float(state["speed"]),
                                         other["speed"], other["forward_m"], other["lateral_m"], gaps, throttles))


def find_collisions(
    act: Callable[[dict[str, np.ndarray]], np.ndarray],
    env: gym.Env,
    episodes: int,
    seed: int,
    frame_stack: int = 1,
    history: int = 8,
) -> CollisionReport:
    """Runs `episodes` whole episodes (seeds seed, seed+1, ...) with `act`."""
    found, endings, changes = [], Counter(), []
    for episode in range(episodes):
        watch = _EpisodeWatch(episode, history)
        endings[run_episode(env, act, frame_stack, seed + episode, on_step=watch).termination_reason] += 1
        found.extend(watch.collisions)
        changes.extend(np.abs(np.diff(watch.actions, axis=0)))
    steer, throttle = np.mean(changes, axis=0) if changes else (float("nan"), float("nan"))
    return CollisionReport(found, endings, episodes + len(changes), float(steer), float(throttle))


def markdown_report(name: str, report: CollisionReport) -> str:
    """A summary line and one row per collision (speeds in km/h)."""
    kinds = Counter(c.kind for c in report.collisions)
    lines = [f"**{name}**: episodes ended " + ", ".join(f"{k} {n}" for k, n in sorted(report.endings.items()))
             + "; collisions " + ", ".join(f"{k} {kinds[k]}" for k in KINDS)
             + f"; mean change per step ({report.steps} steps): steer {report.steer_change:.2f}, "
             f"throttle_brake {report.throttle_change:.2f}"]
    if not report.collisions:  # a table of no rows is noise
        return lines[0]
    lines += ["", "| episode | step | kind | ego km/h | other km/h | other ahead m | lateral m "
              "| gap ahead m, oldest first | throttle_brake, oldest first |",
              "|---:|---:|---|---:|---:|---:|---:|---|---|"]  # fmt: skip
    for c in report.collisions:
        gaps = " ".join("–" if np.isinf(g) else f"{g:.1f}" for g in c.gaps)
        throttles = " ".join(f"{t:+.1f}" for t in c.throttles)
        lines.append(f"| {c.episode} | {c.step} | {c.kind} | {c.ego_speed * 3.6:.0f} | {c.other_speed * 3.6:.0f} "
                     f"| {c.forward:+.1f} | {c.lateral:+.1f} | {gaps} | {throttles} |")
    return "\n".join(lines)
