"""Ansible playbooks under ``playbooks/``, run through ansible-runner.

>>> result = run_playbook("softhsm", run, tags=["tokens"])
>>> result.status, result.artifacts          # events and stdout in the run folder

Every run keeps ansible-runner's private data folder (inventory, env, artifacts)
under ``<run>/ansible/`` and a summary in ``<run>/playbook-<name>.json``. The
playbooks get ``harness_run_dir`` and ``harness_python`` as extra variables, and
``ansible-playbook`` is found in the harness's own virtual environment.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, HarnessError, MissingDependencyError
from harness.runs import RunDir

if TYPE_CHECKING:
    from harness.spec import NetworkSpec, PortBlock

log = logging.getLogger(__name__)

PLAYBOOKS_DIR = Path(__file__).resolve().parents[1] / "playbooks"
DEFAULT_INVENTORY = PLAYBOOKS_DIR / "inventory" / "localhost.yml"


class PlaybookFailedError(HarnessError):
    """A playbook ran and failed; the run folder holds its events and output."""

    exit_code = 1


@dataclass(frozen=True)
class PlaybookResult:
    playbook: str
    status: str
    rc: int
    artifacts: Path
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "status": self.status,
            "rc": self.rc,
            "artifacts": str(self.artifacts),
            "seconds": round(self.seconds, 3),
        }


def playbooks() -> list[str]:
    """Names of the shipped playbooks (``softhsm``, ``network``, ...)."""
    return sorted(path.stem for path in PLAYBOOKS_DIR.glob("*.yml"))


def playbook_path(name: str) -> Path:
    """``playbooks/<name>.yml``; a clear error naming the known ones."""
    path = PLAYBOOKS_DIR / f"{name.removesuffix('.yml')}.yml"
    if not path.is_file():
        raise ConfigError(
            f"no playbook {name!r} in {PLAYBOOKS_DIR}",
            hint=f"playbooks: {', '.join(playbooks())}",
        )
    return path


def _environment() -> dict[str, str]:
    """PATH with this interpreter's bin folder first, so ansible-runner finds the
    ``ansible-playbook`` installed beside the harness."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if not (Path(venv_bin) / "ansible-playbook").exists():
        raise MissingDependencyError(
            f"ansible-playbook is not installed in {venv_bin}",
            hint="run scripts/bootstrap.sh",
        )
    return {"PATH": f"{venv_bin}{os.pathsep}{path}", "ANSIBLE_NOCOLOR": "1"}


def run_playbook(
    name: str,
    run: RunDir,
    *,
    extravars: Mapping[str, Any] | None = None,
    inventory: Path | None = None,
    tags: Sequence[str] = (),
    skip_tags: Sequence[str] = (),
    syntax_check: bool = False,
    check: bool = True,
) -> PlaybookResult:
    """Run ``playbooks/<name>.yml`` against ``inventory`` (localhost by default).

    With ``check`` a failed playbook raises :class:`PlaybookFailedError`.
    """
    import time

    import ansible_runner

    path = playbook_path(name)
    private = run.path / "ansible" / path.stem
    private.mkdir(parents=True, exist_ok=True)
    variables = {
        "harness_run_dir": str(run.path),
        "harness_python": sys.executable,
        **(extravars or {}),
    }
    cmdline = "--syntax-check" if syntax_check else None
    started = time.monotonic()
    log.info("playbook %s on %s", path.name, inventory or DEFAULT_INVENTORY)
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(path),
        inventory=str(inventory or DEFAULT_INVENTORY),
        extravars=variables,
        tags=",".join(tags) or None,
        skip_tags=",".join(skip_tags) or None,
        cmdline=cmdline,
        envvars=_environment(),
        quiet=True,
        ident=f"{path.stem}-{int(time.time() * 1000)}",
    )
    result = PlaybookResult(
        playbook=path.stem,
        status=str(runner.status),
        rc=int(runner.rc),
        artifacts=Path(runner.config.artifact_dir),
        seconds=time.monotonic() - started,
    )
    run.write_json(f"playbook-{path.stem}.json", result.to_json())
    log.info("playbook %s %s (rc %d)", path.stem, result.status, result.rc)
    if check and result.rc != 0:
        raise PlaybookFailedError(
            f"playbook {path.name} {result.status} (rc {result.rc}): "
            f"{_last_failure(runner)}",
            hint=f"its output is in {result.artifacts / 'stdout'}",
        )
    return result


def _last_failure(runner: Any) -> str:
    """The message of the last failed task, or the last line of output."""
    message = ""
    for event in runner.events:
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = event.get("event_data", {})
            result = data.get("res", {})
            message = f"task '{data.get('task', '?')}': {result.get('msg', '')}"
    if message:
        return message.strip()
    lines = [line for line in runner.stdout.read().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def network_vars(spec: NetworkSpec, ports: PortBlock) -> dict[str, Any]:
    """Extra variables of ``network.yml``: each node and its operations port.

    The per-node process layout is the Docker backend's: three ports per node, the
    second serving /healthz.
    """
    from harness.fabric.docker import node_layouts

    layouts = node_layouts(spec, Path("/nonexistent"), ports)
    return {
        "harness_nodes": [
            {"name": name, "operations_port": layout.operations_port}
            for name, layout in layouts.items()
        ]
    }
