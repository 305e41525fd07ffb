"""Network specs: YAML files under ``networks/`` loaded into typed, validated values.

>>> spec = load_spec("default")            # networks/default.yaml
>>> spec.channel("utilityemissionchannel").batch.timeout_s
0.02
>>> block = allocate_ports(spec.ports)      # this xdist worker's free block
"""

from harness.spec._errors import SpecError
from harness.spec._loader import (
    NETWORKS_DIR,
    YamlNode,
    dump_spec,
    load_spec,
    parse_spec,
    spec_to_dict,
)
from harness.spec._model import (
    RAFT_SIZES,
    BatchSettings,
    Chaincode,
    Channel,
    HsmSettings,
    IdentityStore,
    NetworkSpec,
    OrdererService,
    Org,
    PortSettings,
    ProfileName,
    RaftSettings,
    TimingProfile,
    User,
)
from harness.spec._ports import (
    EPHEMERAL_HIGH,
    EPHEMERAL_LOW,
    PortBlock,
    allocate_ports,
    port_is_free,
    worker_index,
)
from harness.spec._timing import PROFILES, REALISTIC, TEST, timing_profile

__all__ = [
    "EPHEMERAL_HIGH",
    "EPHEMERAL_LOW",
    "NETWORKS_DIR",
    "PROFILES",
    "RAFT_SIZES",
    "REALISTIC",
    "TEST",
    "BatchSettings",
    "Chaincode",
    "Channel",
    "HsmSettings",
    "IdentityStore",
    "NetworkSpec",
    "OrdererService",
    "Org",
    "PortBlock",
    "PortSettings",
    "ProfileName",
    "RaftSettings",
    "SpecError",
    "TimingProfile",
    "User",
    "YamlNode",
    "allocate_ports",
    "dump_spec",
    "load_spec",
    "parse_spec",
    "port_is_free",
    "spec_to_dict",
    "timing_profile",
    "worker_index",
]
