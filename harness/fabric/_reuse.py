"""Attach to a network that runs in another process (``harness up``, or the pytest
plugin's ``--harness-keep``): FabricClients over gRPC built from its run folder.

>>> with attach(RunDir.latest("network")) as network:
...     client = network.client("Org1", "user1")
...     client.submit("utilityemissionchannel", "utilityemissions", ...)

Everything comes from the run folder: ``spec.yaml`` (orgs, users, roles),
``nodes.json`` (addresses), ``connection-profile.json`` (TLS), ``crypto/`` (the
users' certificates and file keys) and, for users whose keys live in the HSM,
``softhsm/`` (SoftHSM2 lets a second process open the same token directory; this
process then serves only that SoftHSM2 home, see ``harness.hsm._module``).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, HarnessError
from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.fabric.client import FabricClient
    from harness.fabric.grpc import GrpcOrderer, GrpcPeer
    from harness.hsm import Token
    from harness.identity import Identity, Organization
    from harness.spec import NetworkSpec

log = logging.getLogger(__name__)

_CONTROL_TIMEOUT_S = 30.0


class AttachedNetwork:
    """A network served by another process, seen through its run folder."""

    def __init__(self, run: RunDir) -> None:
        from harness.spec import load_spec

        if run.status() != "ready" or not run.file("nodes.json").exists():
            raise ConfigError(
                f"the network in {run.path} is not running (status {run.status()!r})",
                hint="start one with 'harness up' or pass another run folder",
            )
        self.run = run
        self.spec: NetworkSpec = load_spec(_spec_source(run))
        self.nodes: dict[str, Any] = json.loads(run.file("nodes.json").read_text())
        self.profile: dict[str, Any] = json.loads(
            run.file("connection-profile.json").read_text()
        )
        control = run.file("control.json")
        self.control_url: str | None = (
            json.loads(control.read_text())["url"] if control.exists() else None
        )
        self._token: Token | None = None
        self._orgs: dict[str, Organization] = {}
        self._closers: list[Any] = []

    def __enter__(self) -> AttachedNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def tls(self) -> str:
        return str(self.profile.get("x-harness", {}).get("tls", "none"))

    # --- clients ---------------------------------------------------------------------

    def user(self, org: str, name: str) -> Identity:
        """A user of the spec with its signer (file key, or key on the run's token)."""
        try:
            org_spec = self.spec.org(org)
        except KeyError:
            raise ConfigError(
                f"no org {org!r} in network {self.spec.name}",
                hint=f"orgs: {', '.join(o.name for o in self.spec.orgs)}",
            ) from None
        users = [u for u in self.spec.users if self.spec.org(u.org) == org_spec]
        match = next((u for u in users if u.name == name), None)
        if match is None:
            raise ConfigError(
                f"no user {name!r} in {org_spec.name}",
                hint=f"users: {', '.join(u.name for u in users) or 'none'}",
            )
        token = self._open_token() if org_spec.identities == "hsm" else None
        return self._org(org_spec.name).load_identity(name, match.role, token=token)

    def client(self, org: str, user: str) -> FabricClient:
        """A FabricClient of ``user`` of ``org`` reaching every peer and the
        orderers over gRPC (the next orderer when one is unreachable)."""
        from harness.fabric.client import FabricClient
        from harness.fabric.grpc import FailoverOrderer

        identity = self.user(org, user)
        peers = [self._peer(name, identity) for name in self._peer_names()]
        orderers = [self._orderer(name, identity) for name in self.spec.orderer.nodes]
        orderer = orderers[0] if len(orderers) == 1 else FailoverOrderer(orderers)
        return FabricClient(identity, peers, orderer)

    def _peer_names(self) -> list[str]:
        return [peer for org in self.spec.orgs for peer in org.peers]

    def _peer(self, name: str, identity: Identity) -> GrpcPeer:
        from harness.fabric.grpc import GrpcPeer

        msp_id = next(org.msp_id for org in self.spec.orgs if name in org.peers)
        peer = GrpcPeer(name, msp_id, self._channel(name, identity), identity)
        self._closers.append(peer)
        return peer

    def _orderer(self, name: str, identity: Identity) -> GrpcOrderer:
        from harness.fabric.grpc import GrpcOrderer

        orderer = GrpcOrderer(name, self._channel(name, identity))
        self._closers.append(orderer)
        return orderer

    def _channel(self, name: str, identity: Identity) -> Any:
        from harness.fabric.grpc import TlsFiles, channel_to

        address = self.nodes[name]["address"]
        if self.tls == "none":
            return channel_to(address)
        entry = self.profile["peers"].get(name) or self.profile["orderers"][name]
        client_cert = None
        if self.tls == "mutual" and identity.tls_dir is not None:
            own = TlsFiles.in_folder(Path(identity.tls_dir), "client")
            client_cert = (own.key.read_bytes(), own.certificate.read_bytes())
        return channel_to(
            address,
            tls_ca=Path(entry["tlsCACerts"]["path"]).read_bytes(),
            client_cert=client_cert,
            host_override=entry["grpcOptions"]["grpc.ssl_target_name_override"],
        )

    def _org(self, name: str) -> Organization:
        from harness.identity import Organization

        if name not in self._orgs:
            for meta in sorted(self.run.path.glob("crypto/*Organizations/*/org.json")):
                if json.loads(meta.read_text()).get("name") == name:
                    self._orgs[name] = Organization.load(meta.parent)
                    break
            else:
                raise ConfigError(f"no crypto folder of {name} in {self.run.path}")
        return self._orgs[name]

    def _open_token(self) -> Token:
        from harness.hsm import SoftHsm, Token

        if self._token is None:
            softhsm = SoftHsm.open(self.run.path / "softhsm")
            self._token = Token(softhsm, self.spec.hsm.label)
        return self._token

    # --- isolation through the daemon's control endpoint -------------------------------

    def snapshot(self) -> str:
        """A world-state snapshot taken by the serving process; its id."""
        return str(self._control("/snapshot", {})["id"])

    def restore(self, snapshot: str) -> None:
        self._control("/restore", {"id": snapshot})

    def _control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.control_url is None:
            raise HarnessError(
                f"the network in {self.run.path} has no control endpoint"
            )
        request = urllib.request.Request(
            self.control_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=_CONTROL_TIMEOUT_S) as reply:
                answer: dict[str, Any] = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            error = json.loads(exc.read() or b"{}").get("error", str(exc))
            raise HarnessError(f"the network refused {path}: {error}") from None
        except OSError as exc:
            raise HarnessError(
                f"cannot reach the network's control endpoint: {exc}"
            ) from None
        return answer

    def close(self) -> None:
        """Close the gRPC channels and the token; the network itself keeps running."""
        for part in self._closers:
            part.close()
        self._closers.clear()
        if self._token is not None:
            self._token.close()
            self._token = None


def _spec_source(run: RunDir) -> str:
    """Where the spec of ``run`` came from (the resolved ``spec.yaml`` names it; the
    resolved form itself does not load as a spec)."""
    import yaml

    resolved = yaml.safe_load(run.file("spec.yaml").read_text()) or {}
    source = resolved.get("source")
    if not source:
        raise ConfigError(f"{run.file('spec.yaml')} does not name its source spec")
    return str(source)


def attach(run: RunDir | Path) -> AttachedNetwork:
    """The network served from ``run`` (a run folder of ``harness up``)."""
    return AttachedNetwork(run if isinstance(run, RunDir) else RunDir.open(run))


def client_for_run(run: RunDir | Path, org: str, user: str) -> FabricClient:
    """A gRPC FabricClient of ``user`` of ``org`` on the network served from
    ``run``. Its channels (and the HSM token, for an HSM user) stay open for the
    life of the process; use :func:`attach` to close them."""
    return attach(run).client(org, user)
