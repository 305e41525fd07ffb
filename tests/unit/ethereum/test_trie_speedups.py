"""The py-trie helpers of harness.ethereum._trie_speedups against py-trie's own:
same results and same errors, function by function and on whole tries."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import rlp
from trie import HexaryTrie
from trie.exceptions import InvalidNibbles, ValidationError

from harness.ethereum import _trie_speedups as speedups


@pytest.fixture
def unpatched() -> Iterator[None]:
    """py-trie's own helpers for the test; whatever was installed comes back."""
    was_installed = bool(speedups._originals)
    speedups.uninstall()
    yield
    if was_installed:
        speedups.install()


def _outcome(function: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "value", function(*args)
    except Exception as exc:  # the same class and message are expected
        return type(exc).__name__, str(exc)


def _random_node(rng: random.Random, depth: int = 0) -> Any:
    shape = rng.choice(["leaf", "branch", "branch", "blank"])
    if shape == "blank":
        return b""
    if shape == "leaf":
        value: Any = rng.randbytes(rng.choice([1, 5, 33, 70]))
        if depth < 2 and rng.random() < 0.2:
            value = _random_node(rng, depth + 1)
        return [rng.randbytes(rng.randint(1, 33)), value]
    children: list[Any] = []
    for _ in range(16):
        roll = rng.random()
        if roll < 0.4:
            children.append(b"")
        elif roll < 0.9 or depth >= 2:
            children.append(rng.randbytes(32))
        else:
            children.append(_random_node(rng, depth + 1))
    return [*children, rng.choice([b"", rng.randbytes(3)])]


@pytest.mark.usefixtures("unpatched")
def test_nibble_helpers_match_py_trie() -> None:
    rng = random.Random(8)
    for _ in range(500):
        raw = rng.randbytes(rng.randint(0, 40))
        nibbles = tuple(rng.randrange(16) for _ in range(rng.randint(0, 65)))
        terminated = (*nibbles, 16)
        for name, argument in [
            ("bytes_to_nibbles", raw),
            ("add_nibbles_terminator", nibbles),
            ("add_nibbles_terminator", terminated),
            ("remove_nibbles_terminator", list(terminated)),
            ("remove_nibbles_terminator", nibbles),
            ("encode_nibbles", nibbles),
            ("encode_nibbles", terminated),
            ("decode_nibbles", raw or b"\x00"),
        ]:
            ours = getattr(speedups, name)
            theirs = speedups.original("trie.utils.nibbles", name)
            assert _outcome(ours, argument) == _outcome(theirs, argument), name
        encoded = speedups.encode_nibbles(terminated)
        assert speedups.decode_nibbles(encoded) == terminated


@pytest.mark.usefixtures("unpatched")
def test_encode_nibbles_rejects_what_py_trie_rejects() -> None:
    theirs = speedups.original("trie.utils.nibbles", "encode_nibbles")
    for bad in [(1, 17, 2), (3, 16, 4), (-1,)]:
        with pytest.raises(InvalidNibbles):
            speedups.encode_nibbles(bad)
        with pytest.raises(InvalidNibbles):
            theirs(bad)


@pytest.mark.usefixtures("unpatched")
def test_node_helpers_match_py_trie() -> None:
    rng = random.Random(26)
    validate = speedups.original("trie.validation", "validate_is_node")
    tuplify = speedups.original("trie.hexary", "tuplify")
    listify = speedups.original("trie.hexary", "listify")
    decode = speedups.original("trie.utils.nodes", "decode_node")
    for _ in range(400):
        node = _random_node(rng)
        assert _outcome(speedups.validate_is_node, node) == _outcome(validate, node)
        if isinstance(node, list):
            as_tuple = speedups.tuplify(node)
            assert as_tuple == tuplify(node)
            assert speedups.listify(as_tuple) == listify(as_tuple) == node
            encoded = rlp.encode(node)
            assert speedups.decode_node(encoded) == decode(encoded) == node


@pytest.mark.usefixtures("unpatched")
def test_invalid_nodes_fail_alike() -> None:
    validate = speedups.original("trie.validation", "validate_is_node")
    for bad in [
        [b"k"],
        [b"k", 5],
        [b"\x00" * 31] + [b""] * 16,
        [*([b""] * 16), 7],
        [b"\x01" * 32, *([b""] * 15), "x"],
        "text",
    ]:
        ours, theirs = _outcome(speedups.validate_is_node, bad), _outcome(validate, bad)
        assert ours[0] == "ValidationError", bad
        assert ours == theirs, bad
    with pytest.raises(ValidationError):
        speedups.validate_is_node([b"a", b"b", b"c"])


@pytest.mark.usefixtures("unpatched")
def test_decode_node_leaves_odd_encodings_to_rlp() -> None:
    decode = speedups.original("trie.utils.nodes", "decode_node")
    cases = [
        b"",
        b"\xc0",
        b"\xc2\x81\x05",  # one byte below 0x80 written long: not canonical
        b"\xc3\x01\x02",  # shorter than its length says
        b"\xc2\x01\x02\x03",  # trailing byte
        b"\xf8\x02\x01\x02",  # a long list length where a short one fits
        b"\xc4\xc2\x01\x02\x03",  # a nested list
        rlp.encode([b"k", b"v" * 80]),  # a long string (an account leaf)
        rlp.encode([b"\x01" * 32] * 16 + [b""]),  # a branch over 55 bytes
        b"\x85hello",  # a string, not a list
    ]
    for encoded in cases:
        assert _outcome(speedups.decode_node, encoded) == _outcome(decode, encoded)
    assert speedups.decode_node([b"a", b"b"]) == [b"a", b"b"]


def _trie_history(seed: int) -> tuple[list[bytes], dict[bytes, bytes], list[bytes]]:
    """A pruning trie through random writes, deletes and reads, as eth-tester
    keeps storage: its root after each step, its database, what the reads saw."""
    rng = random.Random(seed)
    db: dict[bytes, bytes] = {}
    trie = HexaryTrie(db, prune=True)
    keys = [rng.randbytes(32) for _ in range(300)]
    roots, reads = [], []
    for step in range(1500):
        key = rng.choice(keys)
        if step % 7 == 3 and trie.exists(key):
            del trie[key]
        else:
            trie[key] = rlp.encode(rng.randbytes(rng.randint(1, 32)))
        roots.append(trie.root_hash)
        reads.append(trie.get(rng.choice(keys)))
    return roots, dict(db), reads


def test_whole_tries_come_out_the_same(unpatched: None) -> None:
    theirs = _trie_history(3)
    assert speedups.install()
    ours = _trie_history(3)
    assert ours[0] == theirs[0]  # the root after every step
    assert ours[1] == theirs[1]  # the nodes kept (and pruned)
    assert ours[2] == theirs[2]
    assert any(read for read in ours[2])  # reads found values
    assert any(not read for read in ours[2])  # and missed deleted keys


def test_install_is_idempotent_and_reversible(unpatched: None) -> None:
    import trie.hexary

    own = trie.hexary.validate_is_node
    assert speedups.install()
    assert speedups.install()
    assert trie.hexary.validate_is_node is speedups.validate_is_node
    assert speedups.original("trie.hexary", "validate_is_node") is own
    speedups.uninstall()
    assert trie.hexary.validate_is_node is own
