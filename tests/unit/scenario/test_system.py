"""Who an attached scenario signs as."""

from __future__ import annotations

import dataclasses

import pytest

from harness.errors import ConfigError
from harness.scenario._system import first_client
from harness.spec import load_spec


def test_the_first_peer_orgs_first_client_user_signs() -> None:
    # default.yaml lists Org1's admin before user1
    assert first_client(load_spec("default")) == ("Org1", "user1")


def test_a_peer_org_without_users_is_a_config_error() -> None:
    spec = load_spec("files")
    others = tuple(u for u in spec.users if u.org != "Org1")
    bare = dataclasses.replace(spec, users=others)

    with pytest.raises(ConfigError, match="no user in Org1"):
        first_client(bare)
