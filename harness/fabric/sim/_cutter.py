"""Fabric's block cutter: when a batch of envelopes becomes a block.

A message larger than PreferredMaxBytes cuts the pending batch and goes alone; a
message that would push the pending batch past PreferredMaxBytes cuts it first; a
batch is cut at MaxMessageCount; otherwise the BatchTimeout timer, started by the
first message of an empty batch, cuts it. Messages over AbsoluteMaxBytes never get
here: the orderer refuses them at Broadcast.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.spec import BatchSettings

log = logging.getLogger(__name__)

Batch = list[bytes]


class MessageTooLargeError(HarnessError):
    """An envelope exceeds the channel's AbsoluteMaxBytes (Broadcast: BAD_REQUEST)."""

    exit_code = 1


class BlockCutter:
    """Pending envelopes of one channel; ``now`` values come from the caller's clock."""

    def __init__(self, settings: BatchSettings) -> None:
        self.settings = settings
        self.pending: Batch = []
        self.pending_bytes = 0
        self.deadline: float | None = None

    def check_size(self, message: bytes) -> None:
        if len(message) > self.settings.absolute_max_bytes:
            raise MessageTooLargeError(
                f"message of {len(message)} bytes exceeds AbsoluteMaxBytes "
                f"{self.settings.absolute_max_bytes}"
            )

    def ordered(self, message: bytes, now: float) -> list[Batch]:
        """Add a message; the batches it causes to be cut, in order."""
        self.check_size(message)
        size = len(message)
        batches: list[Batch] = []
        if size > self.settings.preferred_max_bytes:
            if self.pending:
                batches.append(self.cut())
            batches.append([message])
            return batches
        if (
            self.pending
            and self.pending_bytes + size > self.settings.preferred_max_bytes
        ):
            batches.append(self.cut())
        if not self.pending:
            self.deadline = now + self.settings.timeout_s
        self.pending.append(message)
        self.pending_bytes += size
        if len(self.pending) >= self.settings.max_message_count:
            batches.append(self.cut())
        return batches

    def cut(self) -> Batch:
        """Take the pending batch (maybe empty) and stop its timer."""
        batch = self.pending
        self.pending = []
        self.pending_bytes = 0
        self.deadline = None
        return batch

    def due(self, now: float) -> Batch | None:
        """The pending batch if its BatchTimeout has passed."""
        if self.deadline is not None and now >= self.deadline and self.pending:
            log.debug("batch timeout: cutting %d messages", len(self.pending))
            return self.cut()
        return None
