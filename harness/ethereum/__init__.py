"""The Ethereum side: an eth-tester chain (or any JSON-RPC node, or Anvil), its
JSON-RPC endpoint, the emissions token network contract and the token client.

    chain = Chain.eth_tester()
    token = TokenClient.deploy(chain)
    token.register_default_roles()
    created = token.issue("emissions_auditor", "consumer_1", TokenType.AUDITED_EMISSIONS,
                          1000, from_date, thru_date)
"""

from harness.ethereum._abi import ContractAbi, DecodedEvent
from harness.ethereum._accounts import DEFAULT_ACCOUNT_NAMES, Account, Accounts
from harness.ethereum._artifacts import (
    ContractArtifact,
    default_token_artifact,
    load_artifact,
)
from harness.ethereum._chain import Chain, Snapshot
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
    "SignedTransaction",
    "Snapshot",
    "TokenClient",
    "TokenCreated",
    "TokenType",
    "default_token_artifact",
    "issue_gas_limit",
    "load_artifact",
]
