"""RolloutPool: the learner's side of asynchronous rollout. It starts K worker processes, drains their
pipes, inserts their steps into the per-worker replay shards on the learner's schedule, publishes the
actor weights, and restarts workers that die, hang or raise.

Threads: a receiver thread only moves messages from the pipes into an in-memory FIFO (so a worker
never blocks on a full pipe while the learner trains); the replay is touched by the learner's main
thread alone, in FIFO order, so each worker's episodes stay in order in its shard.

Faults: a dead worker's messages that arrived are all kept; its running episode is truncated in its
shard (when the next message of that shard is processed); its claims that never arrived are given
back to the limiter; it restarts after `restart_backoff * 2**(failures-1)` s. More than
`max_restarts` failures in a row (no finished episode in between) end training with one line.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_connections
from typing import Any

import torch.multiprocessing as tmp

from lightning_td3.callbacks.feature_norm import TrainingHalted
from lightning_td3.rollout.async_replay import ShardedReplay
from lightning_td3.rollout.async_worker import WARMUP_VERSION, SharedPolicy, WorkerSpec, worker_main
from lightning_td3.rollout.episodes import EpisodeStats
from lightning_td3.rollout.exploration import ExplorationConfig
from lightning_td3.rollout.rate_limiter import RateLimiter


class RolloutWorkerError(TrainingHalted):
    """A rollout worker failed more often in a row than `data.worker_max_restarts` allows."""


@dataclass
class _Worker:
    index: int
    generation: int = 0  # processes started so far
    process: Any = None
    conn: Any = None
    eof: bool = True  # the receiver saw the end of the current pipe (or there is none)
    received: int = 0  # step messages received, all generations
    inserted: int = 0  # steps inserted into the shard, all generations
    failures: int = 0  # in a row (reset by a finished episode)
    restarts: int = 0
    restart_at: float | None = None
    last_error: str | None = None
    last_message: float = 0.0
    version: int = WARMUP_VERSION  # policy version of the last inserted step
    owes_start: bool = True  # started, or ended an episode, and its env reset ("start") has not arrived


class RolloutPool:
    """Quacks like RolloutWorker where the rest of the system reads it (env_steps, episodes,
    last_episode, noise_std, state_dict), so callbacks work unchanged in both modes."""

    def __init__(
        self,
        num_workers: int,
        make_spec: Callable[[int, int], WorkerSpec],
        replay: ShardedReplay,
        learning_starts: int,
        exploration: ExplorationConfig,
        max_env_steps: int,
        tolerance: int,
        max_restarts: int = 3,
        restart_backoff: float = 1.0,
        worker_timeout: float = 120.0,
        on_episode_end: Callable[[EpisodeStats], None] | None = None,
    ) -> None:
        self.ctx = tmp.get_context("spawn")
        self.make_spec = make_spec
        self.replay = replay
        self.learning_starts = learning_starts
        self.exploration = exploration
        self.max_restarts = max_restarts
        self.restart_backoff = restart_backoff
        self.worker_timeout = worker_timeout
        self.on_episode_end = on_episode_end
        self.limiter = RateLimiter(num_workers, max_env_steps, tolerance, self.ctx)
        self.workers = [_Worker(k) for k in range(num_workers)]
        self.policy: SharedPolicy | None = None
        self.env_steps = 0  # inserted into the replay
        self.episodes = 0
        self.last_episode: EpisodeStats | None = None
        self._inbox: deque[tuple[int, tuple]] = deque()
        self._arrived = threading.Event()
        self._lock = threading.Lock()
        self._receiver: threading.Thread | None = None
        self._receiver_error: str | None = None
        self._closing = False
        self._start_deadline = 0.0
        self.running = False

    # -- the RolloutWorker view -----------------------------------------------------------------------
    @property
    def num_workers(self) -> int:
        return len(self.workers)

    @property
    def in_warmup(self) -> bool:
        return self.env_steps < self.learning_starts

    @property
    def noise_std(self) -> float:
        return self.exploration.std_at(self.env_steps - self.learning_starts)

    @property
    def policy_version(self) -> int:
        return WARMUP_VERSION if self.policy is None else self.policy.version

    @property
    def restarts(self) -> int:
        return sum(w.restarts for w in self.workers)

    def pids(self) -> list[int | None]:
        return [None if w.process is None else w.process.pid for w in self.workers]

    def worker_versions(self) -> list[int]:
        """Policy version of each worker's last inserted step (-1: warm-up or none yet)."""
        return [w.version for w in self.workers]

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self, module: Any, version: int) -> None:
        """Publishes the current weights, then starts every worker (no-op while running)."""
        if self.policy is None:
            self.policy = SharedPolicy(module, self.ctx)
        self.publish(module, version)
        if self.running:
            return
        self._closing = False
        self.limiter.resume()
        self.limiter.hold_start()  # released by _release_start once every worker is ready
        self._start_deadline = time.monotonic() + self.worker_timeout
        for w in self.workers:
            self.limiter.set_claims(w.index, w.received)
            self._spawn(w)
        self._receiver = threading.Thread(target=self._receive, name="rollout-receiver", daemon=True)
        self._receiver.start()
        self.running = True

    def publish(self, module: Any, version: int) -> None:
        assert self.policy is not None
        self.policy.publish(module, version)

    def close(self, timeout: float = 5.0) -> None:
        """Stops the workers (asks, then SIGTERM, then SIGKILL) and the receiver thread. Idempotent."""
        if not self.running:
            return
        self.limiter.stop()
        deadline = time.monotonic() + timeout
        for w in self.workers:
            if w.process is not None:
                w.process.join(max(0.0, deadline - time.monotonic()))
        for w in self.workers:
            p = w.process
            if p is not None and p.is_alive():
                p.terminate()
                p.join(2.0)
                if p.is_alive():
                    p.kill()
                    p.join()
        self._closing = True
        if self._receiver is not None:
            self._receiver.join(2.0)
        for w in self.workers:
            if w.conn is not None:
                w.conn.close()
            w.process, w.conn, w.eof, w.restart_at = None, None, True, None
        self.running = False

    def _spawn(self, w: _Worker) -> None:
        spec = self.make_spec(w.index, w.generation)
        reader, writer = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(
            target=worker_main, args=(spec, self.policy, self.limiter, writer, os.getpid()),
            name=f"rollout-worker-{w.index}", daemon=True,
        )  # fmt: skip
        process.start()
        writer.close()  # the worker holds the only write end: its death is EOF here
        with self._lock:  # before the receiver can see the new pipe
            w.owes_start, w.last_message = True, time.monotonic()
            w.process, w.conn, w.eof = process, reader, False
        w.generation += 1
        w.restart_at = None

    # -- receiving (thread) ---------------------------------------------------------------------------
    def _receive(self) -> None:
        try:
            self._receive_loop()
        except BaseException as err:  # noqa: BLE001 - reported by supervise() in the main thread
            self._receiver_error = f"{type(err).__name__}: {err}"

    def _receive_loop(self) -> None:
        while not self._closing:
            with self._lock:
                conns = {w.conn: w for w in self.workers if w.conn is not None and not w.eof}
            if not conns:
                time.sleep(0.01)
                continue
            for conn in wait_connections(list(conns), timeout=0.05):
                w = conns[conn]
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    message = ("dead",)
                    w.eof = True
                if message[0] == "step":
                    w.received += 1
                elif message[0] in ("start", "episode"):
                    w.owes_start = message[0] == "episode"
                w.last_message = time.monotonic()
                self._inbox.append((w.index, message))
                self._arrived.set()

    # -- the learner's side (main thread) -------------------------------------------------------------
    def advance_to(self, target: int) -> None:
        """Returns once exactly `target` env steps are in the replay (waiting for workers if needed)."""
        self.limiter.set_schedule(target)
        while True:
            self._arrived.clear()
            self._release_start()
            self._pump(target)
            self.supervise()
            if self.env_steps >= target:
                return
            self._arrived.wait(0.05)

    def _release_start(self) -> None:
        """Lets the workers claim steps once all are ready, or after `worker_timeout` s (a worker that
        never comes up must not stall the others; supervise() deals with it if it dies)."""
        if self.limiter.start_held and (
            not any(w.owes_start for w in self.workers) or time.monotonic() >= self._start_deadline
        ):
            self.limiter.release_start()

    def _pump(self, target: int) -> None:
        """Processes arrived messages in order; a step beyond `target` stays queued (and all behind it)."""
        while self._inbox:
            k, message = self._inbox[0]
            kind = message[0]
            if kind == "step" and self.env_steps >= target:
                return
            self._inbox.popleft()
            shard, w = self.replay[k], self.workers[k]
            if kind == "start":
                shard.abandon_episode()  # a previous process of this worker left its episode running
                shard.start_episode(message[1])
            elif kind == "step":
                _, action, reward, next_obs, terminated, truncated, version = message
                shard.add(action, reward, next_obs, terminated, truncated)
                self.env_steps += 1
                w.inserted += 1
                w.version = version
            elif kind == "episode":
                stats = EpisodeStats.from_state_dict(message[1])
                self.episodes += 1
                self.last_episode = stats
                w.failures = 0
                if self.on_episode_end is not None:
                    self.on_episode_end(stats)
            elif kind == "error":
                w.last_error = message[1]
            elif kind == "dead":
                shard.abandon_episode()

    def supervise(self) -> None:
        """Restarts dead, hung or failed workers (with backoff); raises after too many failures in a row."""
        if not self.running:
            return
        if self._receiver is not None and not self._receiver.is_alive():
            raise RuntimeError(f"the rollout receiver thread stopped: {self._receiver_error}")
        now = time.monotonic()
        for w in self.workers:
            p = w.process
            if p is not None:
                # it owes a step it claimed, or the reset that follows its start or an episode's end
                # (a worker waiting on the limiter owes nothing: its silence is the schedule's)
                owes = w.owes_start or self.limiter.claimed(w.index) > w.received
                if owes and p.is_alive() and now - w.last_message > self.worker_timeout:
                    w.last_error = f"no env step or reset for {self.worker_timeout:g} s (hung simulator?)"
                    p.kill()
                if not w.eof or p.is_alive():
                    continue
                p.join()
                w.failures += 1
                w.restarts += 1
                reason = w.last_error or f"exit code {p.exitcode}"
                if w.failures > self.max_restarts:
                    raise RolloutWorkerError(
                        f"rollout worker {w.index} failed {w.failures} times in a row (last: {reason}); "
                        f"giving up (data.worker_max_restarts={self.max_restarts})"
                    )
                with self._lock:
                    w.conn.close()
                    w.process, w.conn = None, None
                self.limiter.set_claims(w.index, w.received)  # claims that never arrived are free again
                w.restart_at = now + self.restart_backoff * 2 ** (w.failures - 1)
                w.last_error = None
            if w.process is None and w.restart_at is not None and now >= w.restart_at:
                self._spawn(w)

    # -- resumable state (not bit-exact: worker processes restart with fresh episodes) -----------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "mode": "async",
            "num_workers": self.num_workers,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "policy_version": self.policy_version,
            "last_episode": None if self.last_episode is None else self.last_episode.state_dict(),
            "workers": [
                {"inserted": w.inserted, "generation": w.generation, "restarts": w.restarts, "version": w.version}
                for w in self.workers
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("mode") != "async" or state["num_workers"] != self.num_workers:
            have = state.get("num_workers", 0) if state.get("mode") == "async" else 0
            raise ValueError(
                f"the checkpoint was written with data.rollout_workers={have} but this run has "
                f"{self.num_workers}: resume with the same data.rollout_workers"
            )
        self.env_steps = int(state["env_steps"])
        self.episodes = int(state["episodes"])
        last = state["last_episode"]
        self.last_episode = None if last is None else EpisodeStats.from_state_dict(last)
        for w, ws in zip(self.workers, state["workers"], strict=True):
            # steps that had arrived but were not yet inserted are gone: count only the inserted ones
            w.received = w.inserted = int(ws["inserted"])
            w.generation, w.restarts, w.version = int(ws["generation"]), int(ws["restarts"]), int(ws["version"])
