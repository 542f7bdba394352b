"""Optional state file: loaded at start, rewritten after every change.

State objects are plain dataclasses serialised with Litestar's msgspec-backed JSON
helpers. Each carries a `version`; a file of another version is refused rather than
misread. New fields must have defaults, so files written before they existed still load.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol, TypeVar

from litestar.serialization import decode_json, encode_json


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=Versioned)


def load_state(path: Path, state_type: type[S], expected_version: int) -> S | None:
    """The state stored at `path`, or None when there is no file yet."""
    if not path.exists():
        return None
    state = decode_json(path.read_bytes(), target_type=state_type)
    if state.version != expected_version:
        raise ValueError(
            f"state file {path} has version {state.version}, this sandbox reads {expected_version}"
        )
    return state


def dump_state(state: object) -> bytes:
    return encode_json(state)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` so a crash mid-write never leaves a truncated state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
