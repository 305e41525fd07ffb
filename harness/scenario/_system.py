"""The whole system a scenario runs on, and what the checks read from its ledgers.

Checks never trust the orchestrator's own account: they read the peers' world
state, the blocks' validation codes and the token contract.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir
from harness.scenario._replay import BlockReplay, replay_blocks

log = logging.getLogger(__name__)

CHANNEL = "utilityemissionchannel"
DATA_CC = "utilityemissions"
LOCK_CC = "datalock"


AUDITED_EMISSIONS = 3
_NOT_FOUND = 404


def auditor_names(count: int) -> tuple[str, ...]:
    """``emissions_auditor`` and, for more than one, ``emissions_auditor_2`` ..."""
    return (
        "emissions_auditor",
        *(f"emissions_auditor_{n}" for n in range(2, count + 1)),
    )


@dataclass(frozen=True)
class MintedToken:
    token_id: int
    ref: str
    uuids: tuple[str, ...]
    quantity: int
    issuee: str


def first_client(spec: Any) -> tuple[str, str]:
    """The first peer org of ``spec`` and its first client user (its first user
    when none has the client role)."""
    org = spec.peer_orgs[0].name
    users = [u for u in spec.users if spec.org(u.org).name == org]
    if not users:
        raise ConfigError(
            f"network {spec.name} has no user in {org}",
            hint="add one under 'users:' with role client",
        )
    chosen = next((u for u in users if u.role == "client"), users[0])
    return org, str(chosen.name)


def _ethereum(auditors: int, served_log: Path | None = None) -> tuple[Any, Any]:
    """A fresh eth-tester chain with the token contract, its roles and ``auditors``
    emissions-auditor accounts; with ``served_log``, the chain runs in a process of
    its own (``harness chain serve``, output in that file) reached over JSON-RPC."""
    from harness.ethereum import DEFAULT_ACCOUNT_NAMES, Chain, TokenClient
    from harness.ethereum._served import serve_eth_tester

    extra = auditor_names(auditors)[1:]
    names = (*DEFAULT_ACCOUNT_NAMES, *extra)
    if served_log is None:
        chain = Chain.eth_tester(names)
    else:
        chain = serve_eth_tester(names, log_path=served_log)
    try:
        token = TokenClient.deploy(chain)
        token.register_default_roles()
        for name in extra:
            token.register_dealer(name, AUDITED_EMISSIONS)
    except BaseException:
        chain.close()
        raise
    return chain, token


def _chain_log(run: RunDir, served: bool) -> Path | None:
    return run.log_path("eth-tester") if served else None


@dataclass
class System:
    """Fabric network, Ethereum chain, token contract and the Fabric client."""

    network: Any
    fabric: Any
    chain: Any
    token: Any
    baseline_tokens: int
    closers: list[Any] = field(default_factory=list)

    backend = "sim"

    @classmethod
    def start(
        cls,
        network_spec: str,
        run: RunDir,
        *,
        auditors: int = 1,
        served_chain: bool = False,
    ) -> System:
        """The network of ``network_spec`` in ``run``, eth-tester with the token
        contract and its roles; ``auditors`` emissions-auditor accounts in all
        (``emissions_auditor``, ``emissions_auditor_2``, ...); ``served_chain``:
        eth-tester in a process of its own (log ``<run>/logs/eth-tester.log``)."""
        from harness.fabric.client import FabricClient
        from harness.fabric.sim import SimNetwork
        from harness.spec import load_spec

        spec = load_spec(network_spec)
        network = SimNetwork.start(spec, run)
        try:
            org = spec.peer_orgs[0].name
            user = next(u.name for u in spec.users if spec.org(u.org).name == org)
            fabric = FabricClient.in_process(network, network.user(org, user))
            chain, token = _ethereum(auditors, _chain_log(run, served_chain))
        except BaseException:
            network.stop()
            raise
        return cls(network, fabric, chain, token, token.token_count(), [chain, network])

    def stop(self) -> None:
        for part in self.closers:
            part.close() if hasattr(part, "close") else part.stop()

    # --- what checks read -----------------------------------------------------------

    @property
    def spec_name(self) -> str:
        return str(self.network.spec.name)

    def crypto_root(self) -> Path:
        """Where the network's MSP folders are (the run folder that serves it)."""
        return Path(self.network.run.path) / "crypto"

    def height(self) -> int:
        """Blocks on the channel, as the first peer holds them."""
        return int(self.ledger().height)

    def ledger(self, peer: str | None = None) -> Any:
        name = peer or next(iter(self.network.peers))
        return self.network.peers[name].ledger(CHANNEL)

    def record(self, uuid: str, peer: str | None = None) -> dict[str, Any] | None:
        found = self.ledger(peer).state.get(DATA_CC, uuid)
        return None if found is None else dict(json.loads(found.value))

    def locks(self) -> dict[str, list[str]]:
        """Lock entries still in the datalock namespace, per peer."""
        prefix = f"{DATA_CC}::"
        held = {}
        for name in self.network.peers:
            rows = self.ledger(name).state.range(LOCK_CC, prefix, prefix + "\U0010ffff")
            held[name] = [key for key, _ in rows]
        return held

    def tokens(self) -> list[MintedToken]:
        """Every token minted since the scenario started, read from the contract."""
        found = []
        for token_id in range(self.baseline_tokens + 1, self.token.token_count() + 1):
            details = self.token.token_details(token_id)
            try:
                uuids = tuple(json.loads(details["manifest"]).get("uuids", []))
            except ValueError:
                uuids = ()
            balances = self.token.balances(details["issuee"], token_id)
            found.append(
                MintedToken(
                    token_id=token_id,
                    ref=f"{self.token.address}:{token_id}",
                    uuids=uuids,
                    quantity=balances.available + balances.retired,
                    issuee=details["issuee"],
                )
            )
        return found

    def tx_codes(self) -> Counter[str]:
        """Validation codes of every transaction in the first peer's blocks."""
        from harness.fabric.client import code_name
        from harness.fabric.sim._block import tx_filter

        ledger = self.ledger()
        counts: Counter[str] = Counter()
        for number in range(ledger.height):
            for code in tx_filter(ledger.block(number)):
                counts[code_name(code)] += 1
        return counts

    def hsm_tokens(self) -> list[Any]:
        """Every token that holds a key of this network's identities."""
        tokens = {}
        for identity in self._identities():
            token = getattr(identity.signer, "token", None)
            if token is not None:
                tokens[id(token)] = token
        return list(tokens.values())

    def _identities(self) -> list[Any]:
        found = [peer.identity for peer in self.network.peers.values()]
        for user in self.network.spec.users:
            found.append(self.network.user(user.org, user.name))
        return found


class AttachedSystem(System):
    """The same whole system on a network another process serves (``harness up``,
    ``--processes``, ``--via ansible``): a gRPC client, and checks that read the
    ledgers over the wire (queries for records, Deliver for blocks)."""

    backend = "attached"

    @classmethod
    def attach(
        cls,
        network_run: RunDir | Path,
        *,
        auditors: int = 1,
        served_chain: bool = False,
    ) -> AttachedSystem:
        """A client of the first peer org's first client user on the network served
        from ``network_run``, and a fresh eth-tester chain with the token contract
        (``served_chain``: in a process of its own)."""
        from harness.fabric._reuse import attach

        network = attach(network_run)
        try:
            org, user = first_client(network.spec)
            fabric = network.client(org, user)
            chain, token = _ethereum(auditors, _chain_log(network.run, served_chain))
        except BaseException:
            network.close()
            raise
        log.info(
            "scenario system on %s: %s of %s over gRPC", network.run.path, user, org
        )
        return cls(network, fabric, chain, token, token.token_count(), [chain, network])

    def height(self) -> int:
        return self.replay().height

    def ledger(self, peer: str | None = None) -> Any:
        raise HarnessError(
            "the ledgers of an attached network live in its own process",
            hint="read them through record(), locks(), tx_codes() or replay()",
        )

    def replay(self, peer: str | None = None, last: int | None = None) -> BlockReplay:
        """The channel's blocks from ``peer`` (default: the first) replayed, up to
        the highest block any peer has (Deliver waits for a peer that lags behind,
        so every peer is read at the same height).

        The chain is the record: after a world-state snapshot restore on the serving
        side (the pytest plugin's keep mode) the state no longer follows from the
        blocks and this view keeps what the restore undid.
        """
        name = peer or next(iter(self.fabric.peers))
        stop = self._newest_block() if last is None else last
        return replay_blocks(self.fabric.peers[name].blocks(CHANNEL, 0, stop))

    def _newest_block(self) -> int:
        """The number of the newest block on any peer of the channel."""
        from harness.fabric._messages import NEWEST

        newest = [
            peer.blocks(CHANNEL, NEWEST, NEWEST)[-1].header.number
            for peer in self.fabric.peers.values()
        ]
        return int(max(newest))

    def record(self, uuid: str, peer: str | None = None) -> dict[str, Any] | None:
        from harness.fabric.client import ChaincodeError

        try:
            found = self.fabric.evaluate(
                CHANNEL, DATA_CC, "getEmissionsData", [uuid], peer=peer
            )
        except ChaincodeError as exc:
            if exc.status == _NOT_FOUND:
                return None
            raise
        return dict(json.loads(found))

    def locks(self) -> dict[str, list[str]]:
        prefix = f"{DATA_CC}::"
        last = self._newest_block()
        return {
            name: self.replay(name, last).keys(LOCK_CC, prefix)
            for name in self.fabric.peers
        }

    def tx_codes(self) -> Counter[str]:
        return self.replay().codes

    def _identities(self) -> list[Any]:
        """The users whose keys this process can reach (the peers' signers stay
        with the serving process; their certificates are still inspected)."""
        spec = self.network.spec
        hsm_users = [u for u in spec.users if spec.org(u.org).identities == "hsm"]
        return [self.network.user(u.org, u.name) for u in hsm_users]
