"""What scripts/bootstrap.sh promises: Fabric's Python SDK is installed without
its pins that do not build on Python 3.11."""

from importlib import metadata

import pytest


def test_fabric_sdk_py_is_installed_without_its_broken_pins() -> None:
    assert metadata.version("fabric-sdk-py") == "1.0.0"
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("pysha3")


def test_eth_tester_encodes_with_the_rust_rlp_codec() -> None:
    """pyproject's rusty-rlp: rlp takes it when importable; without it every trie
    node eth-tester writes goes through the pure-Python codec, a fifth slower."""
    import rlp
    import rlp.codec

    assert hasattr(rlp.codec, "rusty_rlp")
    assert rlp.decode(rlp.encode([b"dog", [b"cat", b""]])) == [b"dog", [b"cat", b""]]
