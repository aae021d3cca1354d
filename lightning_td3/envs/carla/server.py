"""Connecting with retries and backoff, and an optional CARLA server process the env owns.

A server the env starts runs in its own process group (start_new_session=True), so stopping it stops
everything it spawned (CarlaUE4.sh starts the real binary as a child).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable


class CarlaConnectionError(RuntimeError):
    """The server stayed unreachable after all retries: training cannot go on."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pair(start: int = 2000, stop: int = 3000, step: int = 2) -> int:
    """A port p with p and p+1 free (CARLA serves RPC on p and streaming on p+1)."""
    for port in range(start, stop, step):
        if port_is_free(port) and port_is_free(port + 1):
            return port
    raise CarlaConnectionError(f"no free port pair in [{start}, {stop})")


def connect_with_backoff(
    connect: Callable[[], None],
    address: str,
    retries: int,
    backoff: float,
    before_retry: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call `connect` up to `retries` times, sleeping backoff * 2**k between tries.

    `before_retry(k)` runs before try k >= 1 (e.g. to restart a server). Returns the number of tries used;
    raises CarlaConnectionError with the address and the last error after the last one.
    """
    if retries < 1:
        raise ValueError(f"retries must be >= 1, got {retries}")
    last_error: Exception | None = None
    for attempt in range(retries):
        if attempt > 0:
            sleep(backoff * 2 ** (attempt - 1))
            if before_retry is not None:
                before_retry(attempt)
        try:
            connect()
            return attempt + 1
        except RuntimeError as error:  # carla raises RuntimeError on time-outs and refused connections
            last_error = error
    message = str(last_error).splitlines()[0] if last_error else ""
    raise CarlaConnectionError(f"CARLA server at {address} unreachable after {retries} attempts: {message}")


class ServerProcess:
    """A user-configured server command, e.g. "CarlaUE4.sh -RenderOffScreen -carla-rpc-port={port}".

    `{port}` is replaced by a free port pair; `start()` returns the port in use.
    """

    def __init__(self, command: str, port: int | None = None, startup_seconds: float = 0.0) -> None:
        if not command.strip():
            raise ValueError("server_command is empty")
        self.command = command
        self.port = port
        self.startup_seconds = startup_seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> int:
        self.stop()
        if "{port}" in self.command:
            self.port = free_port_pair()
        argv = shlex.split(self.command.format(port=self.port))
        self.process = subprocess.Popen(
            argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(self.startup_seconds)
        return self.port

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM to the whole process group, SIGKILL after `grace_seconds`."""
        if self.process is None:
            return
        pgid = self.process.pid  # the group id of a new session leader is its pid
        for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            if not _group_alive(pgid):
                break
            time.sleep(0.05)  # the leader is gone; give its children a moment before SIGKILL
            if not _group_alive(pgid):
                break
        self.process = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
