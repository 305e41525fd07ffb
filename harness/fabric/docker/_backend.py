"""The Docker backend: a real Fabric 2.5 network from a spec, through the Docker SDK.

``up`` renders the configs into the run folder, creates the crypto material from
the harness's CAs (HSM keys on the run's SoftHSM2 token), starts one container per
node, waits until every node's ``/healthz`` answers 200, then creates the channels
through the orderers' channel participation API. The Docker SDK is imported only
when an engine is needed, so the rest of the harness never pays for it.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness.errors import (
    EngineUnavailableError,
    HarnessError,
    MissingDependencyError,
    ReadinessTimeoutError,
)
from harness.fabric.docker._layout import CONFIG_MOUNT, NodeLayout, create_crypto
from harness.fabric.docker._render import (
    CHANNEL_SCRIPT,
    RenderedNetwork,
    RenderOptions,
    render_network,
)
from harness.runs import RunDir
from harness.spec import NetworkSpec, allocate_ports, dump_spec

log = logging.getLogger(__name__)

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
READY_TIMEOUT_S = 120.0
_PROBE_INTERVAL_S = 0.5
_LOG_TAIL = 20


def engine_url() -> str:
    """Where the engine is looked for: ``$DOCKER_HOST``, else the usual socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def engine_client(url: str | None = None) -> Any:
    """A connected Docker SDK client; one clear line when no engine answers."""
    url = url or engine_url()
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as exc:  # the SDK is a dependency; a broken venv lacks it
        raise MissingDependencyError(
            f"the Docker SDK cannot be imported: {exc}",
            hint="run scripts/bootstrap.sh",
        ) from None
    try:
        client = docker.DockerClient(base_url=url, timeout=10)
        client.ping()
    except (DockerException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineUnavailableError(
            f"no Docker engine answers at {url}: {reason}",
            hint="start dockerd or set DOCKER_HOST",
        ) from None
    return client


def engine_problem(url: str | None = None) -> str | None:
    """Why no engine can be used here, or None when one answers (for test skips)."""
    try:
        engine_client(url).close()
    except MissingDependencyError as exc:
        return str(exc)
    return None


class DockerBackend:
    """A Fabric network in Docker containers, one run folder per network."""

    name = "docker"

    def __init__(
        self,
        spec: NetworkSpec,
        run: RunDir,
        *,
        options: RenderOptions | None = None,
        url: str | None = None,
    ) -> None:
        self.spec = spec
        self.run = run
        self.options = options or RenderOptions()
        self.url = url or engine_url()
        self.rendered: RenderedNetwork | None = None
        self.ready_s: float | None = None
        self._client: Any | None = None

    # --- lifecycle -------------------------------------------------------------------

    def up(self, ready_timeout: float = READY_TIMEOUT_S) -> None:
        """Render, start every node, wait for health, create the channels."""
        self._client = engine_client(self.url)
        started = time.monotonic()
        try:
            self.run.set_status("starting")
            self.run.write_text("spec.yaml", dump_spec(self.spec))
            rendered = self.render()
            self._start_nodes(rendered)
            self._wait_healthy(rendered, ready_timeout)
            self._create_channels(rendered)
        except BaseException:
            self.collect_logs()
            self.down()
            self.run.set_status("failed")
            raise
        self.ready_s = time.monotonic() - started
        self.run.write_json("connection-profile.json", self.connection_profile())
        self.run.set_status("ready")
        log.info(
            "docker network %s up: %d nodes in %.1f s",
            self.spec.name,
            len(rendered.layouts),
            self.ready_s,
        )

    def down(self) -> None:
        """Stop and remove every container, volume and the network of this run."""
        client = self._client or engine_client(self.url)
        for container in self._containers(client):
            container.remove(force=True, v=True)
        for volume in client.volumes.list(filters={"label": self._run_label()}):
            volume.remove(force=True)
        for network in client.networks.list(filters={"label": self._run_label()}):
            network.remove()
        if self.run.path.exists() and self.run.status() != "failed":
            self.run.set_status("stopped")
        log.info("docker network %s down", self.spec.name)

    # --- what callers read -----------------------------------------------------------

    def logs(self, node: str, tail: int | None = None) -> str:
        """A node's container log."""
        client = self._client or engine_client(self.url)
        for container in self._containers(client):
            if container.labels.get("harness.node") == node:
                raw: bytes = container.logs(tail=tail if tail is not None else "all")
                return raw.decode(errors="replace")
        raise HarnessError(f"no container for node {node!r} in run {self.run.run_id}")

    def collect_logs(self) -> dict[str, Path]:
        """Every container's log into ``logs/<node>.log``; empty without an engine."""
        if self._client is None:
            return {}
        written: dict[str, Path] = {}
        for container in self._containers(self._client):
            node = container.labels.get("harness.node", container.name)
            path = self.run.log_path(node)
            path.write_bytes(container.logs())
            written[node] = path
        return written

    def health(self) -> dict[str, str]:
        """``OK`` or what the node's /healthz answered, per node."""
        if self.rendered is None:
            return {}
        return {
            name: _healthz(layout) for name, layout in self.rendered.layouts.items()
        }

    def connection_profile(self) -> dict[str, Any]:
        """Endpoints on 127.0.0.1 and TLS CA files, for clients outside Docker."""
        if self.rendered is None:
            return {}
        peers: dict[str, dict[str, Any]] = {}
        orderers: dict[str, dict[str, Any]] = {}
        for name, layout in self.rendered.layouts.items():
            entry = {
                "url": f"grpcs://127.0.0.1:{layout.listen_port}",
                "tlsCACerts": {"path": str(layout.tls_dir / "ca.crt")},
                "grpcOptions": {"ssl-target-name-override": layout.host},
                "mspid": layout.org.msp_id,
                "operations": f"http://127.0.0.1:{layout.operations_port}",
            }
            (peers if layout.kind == "peer" else orderers)[name] = entry
        return {
            "name": self.spec.name,
            "version": "1.0.0",
            "backend": self.name,
            "peers": peers,
            "orderers": orderers,
            "channels": {c.name: {"peers": list(peers)} for c in self.spec.channels},
        }

    # --- steps -----------------------------------------------------------------------

    def render(self) -> RenderedNetwork:
        """Token, crypto material and every config in the run folder; no engine
        needed (``fabric-docker.yml`` runs this before ``docker compose up``)."""
        from harness.hsm import SoftHsm, Token

        crypto = self.run.path / "crypto"
        options = self.options
        if any(org.identities == "hsm" for org in self.spec.orgs):
            softhsm = SoftHsm.create(self.run.path / "softhsm")
            softhsm.init_token(self.spec.hsm.label, pin=self.spec.hsm.pin)
            with Token(softhsm, self.spec.hsm.label, self.spec.hsm.pin) as token:
                create_crypto(self.spec, crypto, token)
            options = RenderOptions(
                **{
                    **vars(options),
                    "softhsm_home": softhsm.home,
                    "softhsm_library": softhsm.library,
                }
            )
        else:
            create_crypto(self.spec, crypto)
        ports = allocate_ports(self.spec.ports)
        self.rendered = render_network(
            self.spec, self.run.path / "docker", crypto, ports, options
        )
        return self.rendered

    def _start_nodes(self, rendered: RenderedNetwork) -> None:
        import yaml

        client = self._client
        assert client is not None
        compose = yaml.safe_load(rendered.compose_file.read_text())
        labels = {"harness.run": self.run.run_id}
        network = client.networks.create(
            f"{rendered.project}-{self.run.run_id}", driver="bridge", labels=labels
        )
        for service in compose["services"].values():
            if service.get("profiles"):
                continue  # tools and chaincode services start on demand
            self._ensure_image(service["image"])
            kwargs = _run_kwargs(service, rendered.project, labels)
            container = client.containers.create(**kwargs)
            network.connect(container, aliases=[service["hostname"]])
            container.start()
            log.info("container %s started", service["container_name"])

    def _ensure_image(self, image: str) -> None:
        from docker.errors import ImageNotFound

        client = self._client
        assert client is not None
        try:
            client.images.get(image)
        except ImageNotFound:
            log.info("pulling %s", image)
            client.images.pull(image)

    def _wait_healthy(self, rendered: RenderedNetwork, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name, layout in rendered.layouts.items():
            answer = _healthz(layout)
            while answer != "OK":
                if time.monotonic() > deadline:
                    tail = self.logs(name, tail=_LOG_TAIL).strip().splitlines()
                    raise ReadinessTimeoutError(
                        f"{name} not healthy after {timeout:.0f} s: {answer}; "
                        f"last log line: {tail[-1] if tail else '(none)'}",
                        hint=f"see {self.run.path / 'logs'} after the run stops",
                    )
                time.sleep(_PROBE_INTERVAL_S)
                answer = _healthz(layout)

    def _create_channels(self, rendered: RenderedNetwork) -> None:
        import yaml
        from docker.errors import ContainerError

        client = self._client
        assert client is not None
        compose = yaml.safe_load(rendered.compose_file.read_text())
        tools = compose["services"]["tools"]
        self._ensure_image(tools["image"])
        kwargs = _run_kwargs(tools, rendered.project, {"harness.run": self.run.run_id})
        kwargs["command"] = ["sh", f"{CONFIG_MOUNT}/configtx/{CHANNEL_SCRIPT}"]
        kwargs["network"] = f"{rendered.project}-{self.run.run_id}"
        try:
            output = client.containers.run(remove=True, **kwargs)
        except ContainerError as exc:
            raise HarnessError(
                f"channel creation failed: {exc.stderr!r}",
                hint=f"the script is {rendered.channel_script}",
            ) from None
        self.run.write_text("logs/channels.log", output.decode(errors="replace"))

    def _containers(self, client: Any) -> list[Any]:
        found: list[Any] = client.containers.list(
            all=True, filters={"label": self._run_label()}
        )
        return found

    def _run_label(self) -> str:
        return f"harness.run={self.run.run_id}"


def _run_kwargs(
    service: dict[str, Any], project: str, labels: dict[str, str]
) -> dict[str, Any]:
    """Docker SDK ``containers.create`` arguments for a rendered compose service."""
    ports: dict[str, tuple[str, int]] = {}
    for mapping in service.get("ports", []):
        host_ip, host_port, container_port = str(mapping).split(":")
        ports[f"{container_port}/tcp"] = (host_ip, int(host_port))
    volumes: dict[str, dict[str, str]] = {}
    for volume in service.get("volumes", []):
        source, target, *mode = str(volume).split(":")
        if not source.startswith("/"):
            source = f"{project}-{labels['harness.run']}-{source}"
        volumes[source] = {"bind": target, "mode": mode[0] if mode else "rw"}
    return {
        "image": service["image"],
        "name": f"{service['container_name']}-{labels['harness.run']}",
        "hostname": service.get("hostname"),
        "command": service.get("command"),
        "environment": service.get("environment", {}),
        "ports": ports,
        "volumes": volumes,
        "labels": {**service.get("labels", {}), **labels},
        "detach": True,
    }


def _healthz(layout: NodeLayout) -> str:
    url = f"http://127.0.0.1:{layout.operations_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            body = response.read(300).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read(300).decode(errors='replace')}"
    except OSError as exc:
        return f"no answer ({exc})"
    if status == 200:
        return "OK"
    return f"HTTP {status}: {json.dumps(body)}"
