"""Named timing profiles: Fabric's own values, or small ones for tests."""

from __future__ import annotations

from harness.spec._model import BatchSettings, ProfileName, RaftSettings, TimingProfile

MB = 1024 * 1024
KB = 1024

REALISTIC = TimingProfile(
    name="realistic",
    batch=BatchSettings(
        timeout_s=2.0,
        max_message_count=500,
        absolute_max_bytes=10 * MB,
        preferred_max_bytes=2 * MB,
    ),
    raft=RaftSettings(tick_interval_s=0.5, election_tick=10, heartbeat_tick=1),
)

# Small timers so a test network orders a lone transaction in tens of milliseconds
# and elects a Raft leader in a fraction of a second; sizes stay Fabric's.
TEST = TimingProfile(
    name="test",
    batch=BatchSettings(
        timeout_s=0.02,
        max_message_count=10,
        absolute_max_bytes=10 * MB,
        preferred_max_bytes=2 * MB,
    ),
    raft=RaftSettings(tick_interval_s=0.01, election_tick=10, heartbeat_tick=1),
)

PROFILES: dict[str, TimingProfile] = {"test": TEST, "realistic": REALISTIC}


def timing_profile(name: ProfileName) -> TimingProfile:
    """The profile called ``name``."""
    return PROFILES[name]
