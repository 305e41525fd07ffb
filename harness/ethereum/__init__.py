"""The Ethereum side: an eth-tester chain (or any JSON-RPC node, or Anvil), its
JSON-RPC endpoint, the emissions token network contract and the token client.

    chain = Chain.eth_tester()            # or Chain.connect(url), or start_anvil()
    token = TokenClient.deploy(chain)     # or TokenClient(chain, address, artifact)
    token.register_default_roles()
    signed = token.build_issue("emissions_auditor", "consumer_1",
                               token_type=TokenType.AUDITED_EMISSIONS, quantity=1000,
                               from_date=start, thru_date=end)
    record(signed.to_json())              # before sending: resendable after a crash
    created = token.send_issue(signed)    # TokenCreated; sending again mints nothing
"""

import importlib.util
import os

# eth-hash takes pycryptodome's keccak when nothing is chosen; safe-pysha3's C one
# (module sha3) makes an eth-tester issue() about a tenth cheaper. Chosen before
# the first hash, and only when it is there and the user has not chosen.
if importlib.util.find_spec("sha3") is not None:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

from harness.ethereum._abi import ContractAbi, DecodedEvent
from harness.ethereum._accounts import DEFAULT_ACCOUNT_NAMES, Account, Accounts
from harness.ethereum._anvil import find_anvil, start_anvil
from harness.ethereum._artifacts import (
    ContractArtifact,
    default_token_artifact,
    load_artifact,
)
from harness.ethereum._bench import run_issue_benchmark
from harness.ethereum._chain import Chain, Snapshot
from harness.ethereum._rpc_server import RpcServer
from harness.ethereum._token import (
    AUDITED_EMISSIONS_DESCRIPTION,
    Balances,
    Roles,
    TokenClient,
    TokenCreated,
    TokenType,
    issue_gas_limit,
)
from harness.ethereum._tx import Log, Receipt, SignedTransaction

__all__ = [
    "AUDITED_EMISSIONS_DESCRIPTION",
    "DEFAULT_ACCOUNT_NAMES",
    "Account",
    "Accounts",
    "Balances",
    "Chain",
    "ContractAbi",
    "ContractArtifact",
    "DecodedEvent",
    "Log",
    "Receipt",
    "Roles",
    "RpcServer",
    "SignedTransaction",
    "Snapshot",
    "TokenClient",
    "TokenCreated",
    "TokenType",
    "default_token_artifact",
    "find_anvil",
    "issue_gas_limit",
    "load_artifact",
    "run_issue_benchmark",
    "start_anvil",
]
