"""Sensor readings as plain records, each read through its own frame-checked queue.

The backend turns every `carla.SensorData` into one of these records inside the sensor callback, so
the env logic never touches the simulator and a test double can produce the same records.
A "latest value" variable is never used: a reading is matched to the tick (frame) it belongs to.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field

import cv2
import numpy as np


class SimulatorTimeout(RuntimeError):
    """A tick or a sensor reading did not arrive in time: an infrastructure fault, not a driving event."""


@dataclass(frozen=True)
class CameraFrame:
    frame: int
    width: int
    height: int
    raw_data: bytes  # BGRA, as carla.Image.raw_data


@dataclass(frozen=True)
class CollisionReading:
    frame: int
    other_type_id: str  # "vehicle.*", "walker.*", "static.*" ...
    intensity: float  # |normal impulse| (N*s)


@dataclass(frozen=True)
class LaneInvasionReading:
    frame: int
    marking_types: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ObstacleReading:
    frame: int
    distance: float  # m
    other_type_id: str
    other_speed: float = 0.0  # m/s, the obstacle's own speed


class SensorQueue:
    """One sensor's readings in arrival order; `get(frame)` returns exactly that frame's reading.

    Stale readings (older frames) are dropped; a reading from a later frame than requested is an error,
    because it means the env and the simulator disagree about time.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.Queue = queue.Queue()
        self.dropped_stale = 0

    def put(self, reading) -> None:
        self._queue.put(reading)

    def get(self, frame: int, timeout: float):
        """Block until the reading for `frame` arrives; SimulatorTimeout after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                reading = (
                    self._queue.get(timeout=max(remaining, 0.0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                raise SimulatorTimeout(
                    f"sensor {self.name!r}: no reading for frame {frame} within {timeout}s"
                ) from None
            if reading.frame == frame:
                return reading
            if reading.frame > frame:
                raise SimulatorTimeout(
                    f"sensor {self.name!r}: got frame {reading.frame} while waiting for {frame}"
                )
            self.dropped_stale += 1

    def drain(self, frame: int) -> list:
        """Event sensors (collision, lane invasion, obstacle) fire only on events: take all up to `frame`."""
        readings, later = [], []
        while True:
            try:
                reading = self._queue.get_nowait()
            except queue.Empty:
                break
            (readings if reading.frame <= frame else later).append(reading)
        for reading in later:  # keep readings that belong to a future tick
            self._queue.put(reading)
        return readings

    def __len__(self) -> int:
        return self._queue.qsize()


def camera_to_gray(reading: CameraFrame, size: int) -> np.ndarray:
    """BGRA bytes -> uint8 [1, size, size] grayscale (area interpolation, as the reference)."""
    bgra = np.frombuffer(reading.raw_data, dtype=np.uint8).reshape(reading.height, reading.width, 4)
    gray = cv2.cvtColor(np.ascontiguousarray(bgra[:, :, :3]), cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)[None]
