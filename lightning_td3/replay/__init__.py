"""Replay: frame-deduplicated storage (FrameReplayBuffer) and the stream the trainer reads."""

from lightning_td3.replay.buffer import FrameReplayBuffer
from lightning_td3.replay.files import ReplayFileError

__all__ = ["FrameReplayBuffer", "ReplayFileError"]
