"""Run folders: one directory per run under ``.harness/runs/<run-id>/``.

Every network, scenario, benchmark and playbook run writes its ``status``, logs and
reports into its own folder. Files are written to a temporary name first and then
renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path(".harness") / "runs"
ROOT_ENV = "HARNESS_RUNS"


def runs_root() -> Path:
    """The folder that holds run folders: ``$HARNESS_RUNS`` or ``.harness/runs``."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunDir:
    """One run's folder and the files every run writes into it."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, kind: str, root: Path | None = None) -> RunDir:
        """Make a new, empty run folder and point ``<root>/latest-<kind>`` at it."""
        root = root if root is not None else runs_root()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{kind}-{secrets.token_hex(3)}"
        path = root / run_id
        path.mkdir(parents=True)
        run = cls(path.resolve())
        run.set_status("created")
        _point_latest(root, kind, run_id)
        log.info("run folder %s", run.path)
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run folder; a clear error when ``path`` is not one."""
        if not (path / "status").is_file():
            raise ConfigError(
                f"{path} is not a harness run folder (it has no 'status' file)",
                hint="pass a folder printed by an earlier harness command",
            )
        return cls(path.resolve())

    @classmethod
    def latest(
        cls, kind: str, root: Path | None = None, *, command: str = ""
    ) -> RunDir:
        """The newest run folder of ``kind``; when there is none, a clear error naming
        the ``command`` that makes one (default ``harness <kind> init``)."""
        root = root if root is not None else runs_root()
        link = root / f"latest-{kind}"
        if not link.exists():
            raise ConfigError(
                f"no earlier '{kind}' run under {root}",
                hint=f"run '{command or f'harness {kind} init'}' first or pass --run DIR",
            )
        return cls.open(link.resolve())

    def file(self, name: str) -> Path:
        return self.path / name

    def log_path(self, node: str) -> Path:
        logs = self.path / "logs"
        logs.mkdir(exist_ok=True)
        return logs / f"{node}.log"

    def set_status(self, status: str) -> None:
        write_atomic(self.path / "status", status + "\n")

    def status(self) -> str:
        return (self.path / "status").read_text().strip()

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        write_atomic(target, text)
        return target

    def write_json(self, name: str, payload: Any) -> Path:
        return self.write_text(
            name, json.dumps(payload, indent=2, sort_keys=True) + "\n"
        )


def _point_latest(root: Path, kind: str, run_id: str) -> None:
    link = root / f"latest-{kind}"
    tmp = root / f".latest-{kind}.{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(run_id)
    os.replace(tmp, link)
