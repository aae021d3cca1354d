"""The rate limiter between the learner and its asynchronous rollout workers.

Why: with env workers in other processes, a fast learner would train on a starved replay and a fast
simulator would fill the replay with stale-policy data; either way results would depend on the
machine. The limiter holds `env_steps_per_update` in both directions:

- learner side, exact: the learner inserts env steps into its replay only up to its schedule (the
  synchronous stream's `min(max_env_steps, learning_starts + floor(k * ratio))` after k batches) and
  waits while fewer have arrived. Steps that arrive early wait in a queue, not in the replay.
- a start gate: at each start the learner holds every claim until all workers have built and reset
  their envs, so the first process up cannot take the whole warm-up while the others still load
  (on a busy machine a process can start seconds after its peer; a CARLA world takes longer).
- worker side, with a tolerance: a worker takes an env step only while the steps claimed by all
  workers stay below the learner's schedule plus `tolerance`, so workers pause when too far ahead.

Lock-free on purpose: every shared counter has a single writer (worker k writes only its own claim
slot; the learner writes the schedule and the stop flag), so a worker killed at any instant cannot
leave a lock held. The price: workers claiming at the same instant can overshoot the tolerance by
at most `num_workers - 1` steps.
"""

from __future__ import annotations

import os
import time
from typing import Any


class RateLimiter:
    """Shared counters (shared memory, picklable to spawned workers) and the claim rule."""

    def __init__(self, num_workers: int, max_env_steps: int, tolerance: int, ctx: Any) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        if tolerance < 1:
            raise ValueError(f"tolerance must be >= 1, got {tolerance}")
        self.num_workers = num_workers
        self.max_env_steps = max_env_steps
        self.tolerance = tolerance
        self._claims = ctx.Array("q", num_workers, lock=False)  # env steps claimed by each worker, ever
        self._schedule = ctx.Value("q", 0, lock=False)  # env steps the learner will have inserted after this batch
        self._stop = ctx.Value("b", 0, lock=False)
        self._gate = ctx.Value("b", 1, lock=False)  # open unless the learner holds the start

    # -- learner side --------------------------------------------------------------------------------
    def set_schedule(self, env_steps: int) -> None:
        self._schedule.value = int(env_steps)

    def set_claims(self, worker: int, claimed: int) -> None:
        """Only while `worker` is not running: forget claims that never arrived (a dead worker)."""
        self._claims[worker] = int(claimed)

    def stop(self) -> None:
        self._stop.value = 1

    def resume(self) -> None:
        self._stop.value = 0

    def hold_start(self) -> None:
        self._gate.value = 0

    def release_start(self) -> None:
        self._gate.value = 1

    # -- both ---------------------------------------------------------------------------------------
    @property
    def schedule(self) -> int:
        return int(self._schedule.value)

    def claimed(self, worker: int | None = None) -> int:
        return int(self._claims[worker]) if worker is not None else int(sum(self._claims))

    @property
    def stopped(self) -> bool:
        return bool(self._stop.value)

    @property
    def start_held(self) -> bool:
        return not self._gate.value

    def limit(self) -> int:
        """Claims allowed in total now: schedule + tolerance, never past the run's end (unless the
        schedule itself is, which only happens to refill an emptied replay)."""
        schedule = self.schedule
        return min(max(self.max_env_steps, schedule), schedule + self.tolerance)

    # -- worker side --------------------------------------------------------------------------------
    def try_claim(self, worker: int) -> int | None:
        """Claims one env step for `worker`; returns its global index (steps claimed before it) or None."""
        total = self.claimed()
        if self.start_held or total >= self.limit():
            return None
        self._claims[worker] += 1
        return total

    def claim(self, worker: int, parent_pid: int | None = None) -> int | None:
        """Waits until a step may be taken; None once stopped (or the learner process is gone)."""
        pause = 0.0005
        while not self.stopped:
            index = self.try_claim(worker)
            if index is not None:
                return index
            if parent_pid is not None and os.getppid() != parent_pid:
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        return None
