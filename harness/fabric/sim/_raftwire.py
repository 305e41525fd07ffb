"""Raft messages on the wire between orderer processes.

A frame is a 4-byte big-endian length and a JSON object::

    {"v": 1, "channel": "...", "src": "orderer0", "type": "append", ...}

Entry and envelope bytes travel as base64. The version lets a later encoding be
refused by name rather than misread; frames over :data:`MAX_FRAME_BYTES` are
refused before they are read.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from harness.errors import HarnessError
from harness.fabric.sim._raft import (
    Append,
    AppendReply,
    Entry,
    Forward,
    Message,
    RequestVote,
    VoteReply,
)

WIRE_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024 * 1024  # MaxInflightBlocks batches of a few MB each
HEADER = struct.Struct(">I")


class WireFormatError(HarnessError):
    """A frame that is not a Raft message of a known version."""

    exit_code = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise WireFormatError(f"expected base64 text, got {type(text).__name__}")
    return base64.b64decode(text.encode("ascii"), validate=True)


def _fields(message: Message) -> dict[str, Any]:
    if isinstance(message, RequestVote):
        return {
            "type": "vote",
            "term": message.term,
            "last_index": message.last_index,
            "last_term": message.last_term,
        }
    if isinstance(message, VoteReply):
        return {"type": "vote_reply", "term": message.term, "granted": message.granted}
    if isinstance(message, Append):
        return {
            "type": "append",
            "term": message.term,
            "prev_index": message.prev_index,
            "prev_term": message.prev_term,
            "entries": [[e.term, _b64(e.data)] for e in message.entries],
            "commit": message.commit,
        }
    if isinstance(message, AppendReply):
        return {
            "type": "append_reply",
            "term": message.term,
            "success": message.success,
            "match_index": message.match_index,
        }
    return {"type": "forward", "data": _b64(message.data)}


def _append(obj: dict[str, Any]) -> Append:
    entries = tuple(Entry(int(term), _unb64(data)) for term, data in obj["entries"])
    return Append(
        int(obj["term"]),
        int(obj["prev_index"]),
        int(obj["prev_term"]),
        entries,
        int(obj["commit"]),
    )


_DECODERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "vote": lambda o: RequestVote(
        int(o["term"]), int(o["last_index"]), int(o["last_term"])
    ),
    "vote_reply": lambda o: VoteReply(int(o["term"]), bool(o["granted"])),
    "append": _append,
    "append_reply": lambda o: AppendReply(
        int(o["term"]), bool(o["success"]), int(o["match_index"])
    ),
    "forward": lambda o: Forward(_unb64(o["data"])),
}


def encode(channel: str, src: str, message: Message) -> bytes:
    """The JSON body of one message (no length header)."""
    body = {"v": WIRE_VERSION, "channel": channel, "src": src, **_fields(message)}
    return json.dumps(body, separators=(",", ":")).encode()


def decode(body: bytes) -> tuple[str, str, Message]:
    """``(channel, src, message)`` from a body :func:`encode` wrote."""
    try:
        obj = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireFormatError(f"raft frame is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireFormatError("raft frame is not a JSON object")
    if obj.get("v") != WIRE_VERSION:
        raise WireFormatError(
            f"raft frame version {obj.get('v')!r}, expected {WIRE_VERSION}",
            hint="run every orderer of the network from the same harness version",
        )
    decoder = _DECODERS.get(str(obj.get("type")))
    if decoder is None:
        raise WireFormatError(f"unknown raft message type {obj.get('type')!r}")
    try:
        message = decoder(obj)
        return str(obj["channel"]), str(obj["src"]), message
    except (KeyError, TypeError, ValueError) as exc:
        raise WireFormatError(f"malformed {obj['type']} frame: {exc!r}") from None


def frame(body: bytes) -> bytes:
    """``body`` with its length header, refused when over the size bound."""
    if len(body) > MAX_FRAME_BYTES:
        raise WireFormatError(
            f"raft frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}"
        )
    return HEADER.pack(len(body)) + body


def body_length(header: bytes) -> int:
    """The body length a header announces; refused when over the size bound."""
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise WireFormatError(f"raft frame announces {length} bytes, over the bound")
    return int(length)
