"""The Fabric network simulator's core: policies, ledger, chaincode simulation,
ordering (block cutter and Raft), blocks and their store, and MSP validation.

The gRPC services, the client and the CLI are built on these pieces.
"""

from harness.fabric.sim._block import (
    ChainError,
    block_hash,
    block_header_bytes,
    check_link,
    data_hash,
    new_block,
    next_block,
    set_tx_filter,
    sign_block,
    tx_filter,
)
from harness.fabric.sim._blockstore import BlockStore
from harness.fabric.sim._cutter import BlockCutter, MessageTooLargeError
from harness.fabric.sim._keys import (
    InvalidKeyError,
    create_composite_key,
    split_composite_key,
)
from harness.fabric.sim._ledger import (
    VALIDATION_PARAMETER,
    SimulationError,
    TxSimulator,
    UpdateBatch,
    VersionedValue,
    WorldState,
    commit_block,
    key_policy,
    validate_mvcc,
)
from harness.fabric.sim._mango import QueryError
from harness.fabric.sim._msp import (
    Msp,
    MspError,
    MspManager,
    ValidatedIdentity,
)
from harness.fabric.sim._network import SimNetwork
from harness.fabric.sim._orderer import (
    DeterministicRuntime,
    DeterministicScheduler,
    OrdererNode,
    RaftCluster,
    ServiceUnavailableError,
    ThreadedRuntime,
)
from harness.fabric.sim._ordering import OrderingService
from harness.fabric.sim._peer import (
    BlockSource,
    ChannelConfig,
    NodeUnavailableError,
    Peer,
    PeerLedger,
    TxStatus,
    code_name,
    code_value,
)
from harness.fabric.sim._policy import (
    ImplicitMeta,
    NOutOf,
    Policy,
    PolicyError,
    PolicyIdentity,
    Principal,
    SignedBy,
    default_org_policies,
    evaluate,
    from_envelope_bytes,
    parse_policy,
    resolve,
    to_envelope_bytes,
)
from harness.fabric.sim._raft import RaftNode, RaftStorage, Transport
from harness.fabric.sim._rwset import NsRwSet, RangeQueryInfo, TxRwSet, Version
from harness.fabric.sim._stub import (
    ChaincodeEvent,
    SimStub,
    SimulationResult,
    TxContext,
    simulate,
)
from harness.fabric.sim._validation import TxValidationCode, endorsement_satisfied

__all__ = [
    "VALIDATION_PARAMETER",
    "BlockCutter",
    "BlockSource",
    "BlockStore",
    "ChainError",
    "ChaincodeEvent",
    "ChannelConfig",
    "DeterministicRuntime",
    "DeterministicScheduler",
    "ImplicitMeta",
    "InvalidKeyError",
    "MessageTooLargeError",
    "Msp",
    "MspError",
    "MspManager",
    "NOutOf",
    "NodeUnavailableError",
    "NsRwSet",
    "OrdererNode",
    "OrderingService",
    "Peer",
    "PeerLedger",
    "Policy",
    "PolicyError",
    "PolicyIdentity",
    "Principal",
    "QueryError",
    "RaftCluster",
    "RaftNode",
    "RaftStorage",
    "RangeQueryInfo",
    "ServiceUnavailableError",
    "SignedBy",
    "SimNetwork",
    "SimStub",
    "SimulationError",
    "SimulationResult",
    "ThreadedRuntime",
    "Transport",
    "TxContext",
    "TxRwSet",
    "TxSimulator",
    "TxStatus",
    "TxValidationCode",
    "UpdateBatch",
    "ValidatedIdentity",
    "Version",
    "VersionedValue",
    "WorldState",
    "block_hash",
    "block_header_bytes",
    "check_link",
    "code_name",
    "code_value",
    "commit_block",
    "create_composite_key",
    "data_hash",
    "default_org_policies",
    "endorsement_satisfied",
    "evaluate",
    "from_envelope_bytes",
    "key_policy",
    "new_block",
    "next_block",
    "parse_policy",
    "resolve",
    "set_tx_filter",
    "sign_block",
    "simulate",
    "split_composite_key",
    "to_envelope_bytes",
    "tx_filter",
    "validate_mvcc",
]
