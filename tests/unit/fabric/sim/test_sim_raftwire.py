"""Raft messages survive the wire encoding unchanged, and bad frames are refused."""

from __future__ import annotations

import json

import pytest

from harness.fabric.sim._raft import (
    Append,
    AppendReply,
    Entry,
    Forward,
    Message,
    RequestVote,
    VoteReply,
)
from harness.fabric.sim._raftwire import (
    HEADER,
    MAX_FRAME_BYTES,
    WireFormatError,
    body_length,
    decode,
    encode,
    frame,
)

MESSAGES: dict[str, Message] = {
    "request-vote": RequestVote(term=7, last_index=12, last_term=6),
    "vote-granted": VoteReply(term=7, granted=True),
    "vote-refused": VoteReply(term=8, granted=False),
    "append-heartbeat": Append(term=3, prev_index=0, prev_term=0, entries=(), commit=0),
    "append-entries": Append(
        term=4,
        prev_index=9,
        prev_term=3,
        entries=(Entry(4, b""), Entry(4, bytes(range(256))), Entry(3, b"\x00\xff")),
        commit=9,
    ),
    "append-ok": AppendReply(term=4, success=True, match_index=12),
    "append-hint": AppendReply(term=4, success=False, match_index=2),
    "forward": Forward(b"\x0a\x03env\x00"),
    "forward-empty": Forward(b""),
}


@pytest.mark.parametrize("message", MESSAGES.values(), ids=MESSAGES.keys())
def test_every_message_round_trips(message: Message) -> None:
    body = encode("utilityemissionchannel", "orderer1", message)

    assert decode(body) == ("utilityemissionchannel", "orderer1", message)


def test_a_frame_carries_its_length() -> None:
    body = encode("ch", "o0", VoteReply(1, True))
    framed = frame(body)

    assert body_length(framed[: HEADER.size]) == len(body)
    assert framed[HEADER.size :] == body


def test_another_version_is_refused_by_name() -> None:
    obj = json.loads(encode("ch", "o0", VoteReply(1, True)))
    obj["v"] = 2

    with pytest.raises(WireFormatError, match="version 2"):
        decode(json.dumps(obj).encode())


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"v": 1, "channel": "ch", "src": "o0", "type": "gossip"}',
        b'{"v": 1, "channel": "ch", "src": "o0", "type": "vote_reply"}',
        b'{"v": 1, "channel": "ch", "src": "o0", "type": "forward", "data": 3}',
        b'{"v": 1, "channel": "ch", "src": "o0", "type": "forward", "data": "*"}',
    ],
    ids=[
        "not-json",
        "not-object",
        "unknown-type",
        "missing-field",
        "data-int",
        "bad-b64",
    ],
)
def test_a_malformed_body_is_refused(body: bytes) -> None:
    with pytest.raises(WireFormatError):
        decode(body)


def test_an_oversized_frame_is_refused_before_reading() -> None:
    with pytest.raises(WireFormatError, match="over the bound"):
        body_length(HEADER.pack(MAX_FRAME_BYTES + 1))
