"""One eth-tester chain per module with the token deployed and roles registered;
each test runs between a snapshot and a revert, so tests stay independent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.ethereum import Chain, TokenClient


@pytest.fixture(scope="module")
def deployed_token() -> TokenClient:
    token = TokenClient.deploy(Chain.eth_tester())
    token.register_default_roles()
    return token


@pytest.fixture
def token(deployed_token: TokenClient) -> Iterator[TokenClient]:
    snapshot = deployed_token.chain.snapshot()
    yield deployed_token
    deployed_token.chain.revert(snapshot)
