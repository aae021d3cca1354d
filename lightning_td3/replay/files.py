"""Replay array files: atomic, checksummed, streamed in chunks.

A 1M-transition replay is ~7 GB, so the file is written and read in bounded chunks straight from / into
the buffer's preallocated arrays (no second in-memory copy, unlike np.load or torch.load), and only the
rows written so far are stored. Layout:

    MAGIC | raw rows of each array, one after another | footer JSON | footer length (u64 LE) | END_MAGIC

The footer holds the format version, the buffer config, its metadata and, per array, dtype, shape,
offset and CRC32. The file is written to a temp file in the same folder, fsynced, then renamed, so a
crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT_VERSION = 1
MAGIC = b"LTD3RPL\x01"
END_MAGIC = b"LTD3END\x01"
CHUNK_BYTES = 64 * 2**20

Array = np.ndarray | torch.Tensor


class ReplayFileError(ValueError):
    """A replay file is missing, truncated, corrupt, or does not fit the buffer it is loaded into."""


def _row_chunks(array: Array, rows: int) -> list[tuple[int, int]]:
    row_bytes = max(1, array[0].nbytes if len(array) else 1)
    step = max(1, CHUNK_BYTES // row_bytes)
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def _host_bytes(array: Array, start: int, stop: int) -> memoryview:
    part = array[start:stop]
    if isinstance(part, torch.Tensor):
        part = part.detach().cpu().numpy()
    return memoryview(np.ascontiguousarray(part)).cast("B")


def write_arrays(
    path: str | os.PathLike, header: dict[str, Any], arrays: dict[str, Array], rows: int
) -> None:
    """Writes the first `rows` rows of every array, plus `header`, atomically to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            entries = []
            for name, array in arrays.items():
                offset, crc = f.tell(), 0
                for start, stop in _row_chunks(array, rows):
                    chunk = _host_bytes(array, start, stop)
                    crc = zlib.crc32(chunk, crc)
                    f.write(chunk)
                entries.append({
                    "name": name,
                    "dtype": str(array.dtype).removeprefix("torch."),
                    "shape": [rows, *array.shape[1:]],
                    "offset": offset,
                    "nbytes": f.tell() - offset,
                    "crc32": crc,
                })
            footer = json.dumps({"format_version": FORMAT_VERSION, **header, "arrays": entries}).encode()
            f.write(footer)
            f.write(struct.pack("<Q", len(footer)))
            f.write(END_MAGIC)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """Reads and checks the footer of a replay file; raises ReplayFileError if it is not a whole file."""
    path = Path(path)
    if not path.is_file():
        raise ReplayFileError(f"replay file {path} does not exist")
    size = path.stat().st_size
    trailer = 8 + len(END_MAGIC)
    with path.open("rb") as f:
        if size < len(MAGIC) + trailer or f.read(len(MAGIC)) != MAGIC:
            raise ReplayFileError(f"{path} is not a replay file (bad magic or too short)")
        f.seek(size - trailer)
        (footer_len,) = struct.unpack("<Q", f.read(8))
        if f.read(len(END_MAGIC)) != END_MAGIC or footer_len > size - len(MAGIC) - trailer:
            raise ReplayFileError(f"replay file {path} is truncated or corrupt (bad end marker)")
        f.seek(size - trailer - footer_len)
        try:
            header = json.loads(f.read(footer_len))
        except ValueError as exc:
            raise ReplayFileError(f"replay file {path} has a corrupt footer: {exc}") from exc
    if header.get("format_version") != FORMAT_VERSION:
        raise ReplayFileError(
            f"replay file {path} has format version {header.get('format_version')}, expected {FORMAT_VERSION}"
        )
    data_end = size - trailer - footer_len
    for entry in header["arrays"]:
        if entry["offset"] + entry["nbytes"] > data_end:
            raise ReplayFileError(f"replay file {path} is truncated: {entry['name']!r} runs past the end")
    return header


def read_arrays(path: str | os.PathLike, header: dict[str, Any], arrays: dict[str, Array]) -> None:
    """Streams the stored rows into the first rows of `arrays` (names, dtypes, row shapes match), checks CRCs.

    The caller checks dtypes and shapes against `header` first; on a CRC mismatch the arrays hold
    partial data and the caller must treat the buffer as unusable (it raises before committing metadata).
    """
    path = Path(path)
    entries = {entry["name"]: entry for entry in header["arrays"]}
    with path.open("rb") as f:
        for name, array in arrays.items():
            entry = entries[name]
            rows = entry["shape"][0]
            f.seek(entry["offset"])
            crc = 0
            for start, stop in _row_chunks(array, rows):
                target = array[start:stop]
                if isinstance(target, np.ndarray):
                    host = target
                else:
                    host = target.numpy() if target.device.type == "cpu" else None
                staging = host if host is not None else np.empty(tuple(target.shape), _numpy_dtype(target))
                view = memoryview(staging).cast("B")
                if f.readinto(view) != view.nbytes:
                    raise ReplayFileError(f"replay file {path} is truncated inside array {name!r}")
                crc = zlib.crc32(view, crc)
                if host is None:
                    target.copy_(torch.from_numpy(staging))
            if crc != entry["crc32"]:
                raise ReplayFileError(f"replay file {path} is corrupt: checksum mismatch in array {name!r}")


def _numpy_dtype(tensor: torch.Tensor) -> np.dtype:
    return torch.empty(0, dtype=tensor.dtype).numpy().dtype
