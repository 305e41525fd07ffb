"""The emissions token network contract (DOMAIN.md section 3) on the real EVM:
every role check and revert reason, auto-retire, events, token id counting."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.errors import TransactionRevertedError
from harness.ethereum import Roles, TokenClient, TokenType
from harness.ethereum._artifacts import CONTRACTS_DIR

REC = TokenType.RENEWABLE_ENERGY_CERTIFICATE
OFFSET = TokenType.CARBON_EMISSIONS_OFFSET
AUDITED = TokenType.AUDITED_EMISSIONS
ZERO = "0x" + "00" * 20


def issue_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": "emissions_auditor",
        "issuee": "consumer_1",
        "token_type": AUDITED,
        "quantity": 1000,
        "from_date": 1_588_846_209,
        "thru_date": 1_591_524_609,
        "metadata": '{"org":"harness"}',
        "manifest": "uuids: a, b",
        "description": "Audited Utility Emissions",
    }
    args.update(overrides)
    return args


def send(token: TokenClient, sender: str, function: str, *args: Any) -> None:
    """A raw contract call through the client's plumbing (for less-used functions)."""
    token._transact(sender, function, list(args), 300_000)


def reverts(reason: str) -> Any:
    return pytest.raises(TransactionRevertedError, match=f"reverted: {reason}$")


# -- issue: who may issue what


@pytest.mark.parametrize(
    ("issuer", "token_type", "reason"),
    [
        pytest.param("offset_dealer", REC, "caller is not a REC dealer", id="rec"),
        pytest.param(
            "rec_dealer", OFFSET, "caller is not an offset dealer", id="offset"
        ),
        pytest.param(
            "rec_dealer", AUDITED, "caller is not an emissions auditor", id="audited"
        ),
        pytest.param(
            "admin", AUDITED, "caller is not an emissions auditor", id="admin"
        ),
        pytest.param("consumer_1", REC, "caller is not a REC dealer", id="consumer"),
        pytest.param("emissions_auditor", 0, "invalid token type", id="type-0"),
        pytest.param("emissions_auditor", 4, "invalid token type", id="type-4"),
    ],
)
def test_issue_role_checks(
    token: TokenClient, issuer: str, token_type: int, reason: str
) -> None:
    with reverts(reason) as info:
        token.issue(**issue_args(issuer=issuer, token_type=token_type))
    assert info.value.function == "issue"
    assert info.value.tx_hash is not None  # mined and failed, not refused
    assert token.token_count() == 0


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"issuee": ZERO}, "issuee is the zero address", id="zero-issuee"),
        pytest.param({"quantity": 0}, "quantity must be positive", id="zero-quantity"),
        pytest.param(
            {"from_date": 20, "thru_date": 10}, "fromDate is after thruDate", id="dates"
        ),
    ],
)
def test_issue_argument_checks(
    token: TokenClient, overrides: dict[str, Any], reason: str
) -> None:
    with reverts(reason):
        token.issue(**issue_args(**overrides))


@pytest.mark.parametrize(
    ("issuer", "token_type"),
    [("rec_dealer", REC), ("offset_dealer", OFFSET), ("emissions_auditor", AUDITED)],
)
def test_each_dealer_issues_its_own_type(
    token: TokenClient, issuer: str, token_type: int
) -> None:
    created = token.issue(**issue_args(issuer=issuer, token_type=token_type))
    assert created.token_type_id == token_type
    assert created.issuer == token.chain.account(issuer).address


# -- type 3 is retired on issue


def test_audited_emissions_are_retired_in_full_on_issue(token: TokenClient) -> None:
    created = token.issue(**issue_args(quantity=1234))
    assert (created.available_balance, created.retired_balance) == (0, 1234)
    balances = token.balances("consumer_1", created.token_id)
    assert (balances.available, balances.retired) == (0, 1234)


def test_rec_tokens_stay_available_on_issue(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=50)
    )
    assert (created.available_balance, created.retired_balance) == (50, 0)
    assert token.balances("consumer_1", created.token_id).available == 50


def test_issue_events_in_order_with_fields(token: TokenClient) -> None:
    signed = token.build_issue(**issue_args(quantity=77))
    receipt = token.chain.send(signed)
    events = token.events(receipt)
    assert [e.name for e in events] == [
        "TransferSingle",  # mint to the issuee
        "TransferSingle",  # retire: out of the available balance
        "TokenRetired",
        "TokenCreated",
    ]
    mint, burn, retired, created = events
    auditor = token.chain.account("emissions_auditor").address.lower()
    consumer = token.chain.account("consumer_1").address.lower()
    assert (mint.args["from"], mint.args["to"]) == (ZERO, consumer)
    assert (burn.args["from"], burn.args["to"]) == (consumer, ZERO)
    assert dict(retired.args) == {"account": consumer, "tokenId": 1, "amount": 77}
    fields = created.args
    assert list(fields.values())[:6] == [0, 77, 1, 3, auditor, consumer]
    assert (fields["fromDate"], fields["thruDate"]) == (1_588_846_209, 1_591_524_609)
    assert fields["dateCreated"] == token.chain.block_timestamp()
    assert (fields["metadata"], fields["manifest"], fields["description"]) == (
        '{"org":"harness"}',
        "uuids: a, b",
        "Audited Utility Emissions",
    )


def test_token_details_view(token: TokenClient) -> None:
    created = token.issue(**issue_args(automatic_retire_date=1_700_000_000))
    details = token.token_details(created.token_id)
    assert details["token_type_id"] == AUDITED
    assert details["issuee"] == token.chain.account("consumer_1").address
    assert details["automatic_retire_date"] == 1_700_000_000
    assert details["date_created"] == created.date_created


def test_token_ids_count_up_from_one_across_types(token: TokenClient) -> None:
    assert token.token_count() == 0
    ids = [
        token.issue(**issue_args(issuer=issuer, token_type=kind)).token_id
        for issuer, kind in [
            ("rec_dealer", REC),
            ("emissions_auditor", AUDITED),
            ("offset_dealer", OFFSET),
            ("rec_dealer", REC),
        ]
    ]
    assert ids == [1, 2, 3, 4]
    assert token.token_count() == 4


def test_date_created_follows_time_travel(token: TokenClient) -> None:
    target = token.chain.block_timestamp() + 86_400 * 30
    token.chain.time_travel(target)
    created = token.issue(**issue_args())
    assert created.date_created >= target


# -- retire


def test_retire_moves_available_to_retired(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=10)
    )
    receipt = token.retire("consumer_1", created.token_id, 4)
    (retired_event,) = [e for e in token.events(receipt) if e.name == "TokenRetired"]
    assert retired_event.args["amount"] == 4
    balances = token.balances("consumer_1", created.token_id)
    assert (balances.available, balances.retired) == (6, 4)


@pytest.mark.parametrize(
    ("token_id", "amount", "reason"),
    [
        pytest.param(9, 1, "token does not exist", id="no-token"),
        pytest.param(0, 1, "token does not exist", id="token-0"),
        pytest.param(1, 0, "amount must be positive", id="zero"),
        pytest.param(1, 11, "not enough available balance", id="too-much"),
    ],
)
def test_retire_checks(
    token: TokenClient, token_id: int, amount: int, reason: str
) -> None:
    token.issue(**issue_args(issuer="rec_dealer", token_type=REC, quantity=10))
    with reverts(reason):
        token.retire("consumer_1", token_id, amount)


def test_audited_emissions_cannot_be_retired_again(token: TokenClient) -> None:
    created = token.issue(**issue_args())
    with reverts("not enough available balance"):
        token.retire("consumer_1", created.token_id, 1)


# -- transfer


def test_transfer_to_registered_consumer(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=10)
    )
    token.transfer("consumer_1", "consumer_2", created.token_id, 3)
    assert token.balances("consumer_1", created.token_id).available == 7
    assert token.balances("consumer_2", created.token_id).available == 3


@pytest.mark.parametrize(
    ("to", "token_id", "amount", "reason"),
    [
        pytest.param(
            "0x" + "ab" * 20,
            1,
            1,
            "recipient is not a registered consumer or dealer",
            id="unregistered",
        ),
        pytest.param("consumer_1", 1, 1, "cannot transfer to yourself", id="self"),
        pytest.param(
            "consumer_2", 1, 11, "not enough available balance", id="too-much"
        ),
        pytest.param("consumer_2", 1, 0, "amount must be positive", id="zero"),
        pytest.param("consumer_2", 5, 1, "token does not exist", id="no-token"),
    ],
)
def test_transfer_checks(
    token: TokenClient, to: str, token_id: int, amount: int, reason: str
) -> None:
    token.issue(**issue_args(issuer="rec_dealer", token_type=REC, quantity=10))
    with reverts(reason):
        token.transfer("consumer_1", to, token_id, amount)


def test_audited_emissions_are_not_transferable(token: TokenClient) -> None:
    created = token.issue(**issue_args())
    with reverts("audited emissions tokens are not transferable"):
        token.transfer("consumer_1", "consumer_2", created.token_id, 1)


def test_transfer_to_a_contract_that_is_no_receiver(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=10)
    )
    token.register_consumer(token.address)  # a contract without onERC1155Received
    with reverts("recipient is not an ERC1155 receiver"):
        token.transfer("consumer_1", token.address, created.token_id, 1)


def test_erc1155_transfer_needs_approval(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=10)
    )
    owner = token.chain.account("consumer_1").address
    other = token.chain.account("consumer_2").address
    with reverts("caller is not the owner nor approved"):
        send(
            token,
            "consumer_2",
            "safeTransferFrom",
            owner,
            other,
            created.token_id,
            1,
            b"",
        )
    send(token, "consumer_1", "setApprovalForAll", other, True)
    send(
        token, "consumer_2", "safeTransferFrom", owner, other, created.token_id, 2, b""
    )
    assert token.balances("consumer_2", created.token_id).available == 2
    with reverts("cannot approve yourself"):
        send(token, "consumer_1", "setApprovalForAll", owner, True)
    with reverts("ids and amounts length mismatch"):
        send(token, "consumer_1", "safeBatchTransferFrom", owner, other, [1], [], b"")


def test_view_checks(token: TokenClient) -> None:
    with reverts("token does not exist"):
        token.token_details(1)
    with reverts("balance query for the zero address"):
        token._read("balanceOf", [ZERO, 1])
    with reverts("accounts and ids length mismatch"):
        token._read("balanceOfBatch", [[ZERO], []])


# -- roles


def test_default_roles(token: TokenClient) -> None:
    nobody = Roles(False, False, False, False, False, False)
    assert token.roles("admin") == replace(nobody, admin=True)
    assert token.roles("emissions_auditor") == replace(
        nobody, emissions_auditor=True, dealer=True
    )
    assert token.roles("rec_dealer") == replace(nobody, rec_dealer=True, dealer=True)
    assert token.roles("offset_dealer") == replace(
        nobody, offset_dealer=True, dealer=True
    )
    assert token.roles("consumer_1") == replace(nobody, consumer=True)


@pytest.mark.parametrize(
    ("function", "args", "sender", "reason"),
    [
        pytest.param(
            "registerDealer",
            ("consumer_2", 1),
            "rec_dealer",
            "caller is not the admin",
            id="register-dealer-not-admin",
        ),
        pytest.param(
            "unregisterDealer",
            ("rec_dealer", 1),
            "consumer_1",
            "caller is not the admin",
            id="unregister-dealer-not-admin",
        ),
        pytest.param(
            "registerDealer",
            ("consumer_2", 4),
            "admin",
            "invalid token type",
            id="register-dealer-bad-type",
        ),
        pytest.param(
            "unregisterDealer",
            ("consumer_2", 0),
            "admin",
            "invalid token type",
            id="unregister-dealer-bad-type",
        ),
        pytest.param(
            "unregisterDealer",
            ("rec_dealer", 2),
            "admin",
            "account is not a dealer of that type",
            id="unregister-not-dealer",
        ),
        pytest.param(
            "registerConsumer",
            ("consumer_2",),
            "consumer_1",
            "caller is not a dealer or the admin",
            id="register-consumer-by-consumer",
        ),
        pytest.param(
            "unregisterConsumer",
            ("consumer_2",),
            "consumer_1",
            "caller is not a dealer or the admin",
            id="unregister-consumer-by-consumer",
        ),
        pytest.param(
            "unregisterConsumer",
            ("rec_dealer",),
            "admin",
            "account is not a consumer",
            id="unregister-non-consumer",
        ),
    ],
)
def test_role_checks(
    token: TokenClient, function: str, args: tuple[Any, ...], sender: str, reason: str
) -> None:
    resolved = [token._address(a) if isinstance(a, str) else a for a in args]
    with reverts(reason):
        send(token, sender, function, *resolved)


def test_dealer_registers_consumer_and_unregistering_drops_roles(
    token: TokenClient,
) -> None:
    stranger = "0x" + "cd" * 20
    token.register_consumer(stranger, by="rec_dealer")
    assert token.roles(stranger).consumer
    token.unregister_consumer(stranger, by="offset_dealer")
    assert not token.roles(stranger).consumer

    token.register_dealer("consumer_2", REC)
    token.register_dealer("consumer_2", OFFSET)
    token.unregister_dealer("consumer_2", REC)
    assert token.roles("consumer_2").dealer  # still an offset dealer
    token.unregister_dealer("consumer_2", OFFSET)
    assert token.roles("consumer_2") == Roles(False, False, False, False, True, False)
    with reverts("caller is not a REC dealer"):
        token.issue(**issue_args(issuer="consumer_2", token_type=REC))


def test_role_events_name_role_account_and_sender(token: TokenClient) -> None:
    receipt = token.register_dealer("consumer_2", OFFSET)
    names = [(e.name, e.args["account"]) for e in token.events(receipt)]
    consumer = token.chain.account("consumer_2").address.lower()
    assert names == [("RoleGranted", consumer), ("RoleGranted", consumer)]
    sender = token.events(receipt)[0].args["sender"]
    assert sender == token.chain.account("admin").address.lower()


# -- ERC-1155 receivers: hand-assembled contracts that answer any call with a
# fixed bytes4, the right one (accepts) or a wrong one (rejects)

ON_RECEIVED = "f23a6e61"  # onERC1155Received(address,address,uint256,uint256,bytes)
ON_BATCH_RECEIVED = "bc197c81"  # onERC1155BatchReceived(...)


def _deploy_answering(token: TokenClient, answer_hex: str) -> str:
    # runtime: PUSH4 answer, PUSH1 224, SHL, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN
    runtime = bytes.fromhex(f"63{answer_hex}60e01b60005260206000f3")
    # creation: PUSH16 runtime, PUSH1 0, MSTORE, PUSH1 16, PUSH1 16, RETURN
    creation = bytes.fromhex("6f") + runtime + bytes.fromhex("60005260106010f3")
    admin = token.chain.account("admin")
    receipt = token.chain.transact(admin, to=None, data=creation, gas=100_000)
    assert receipt.contract_address is not None
    token.register_consumer(receipt.contract_address)
    return receipt.contract_address


def test_transfer_to_an_accepting_receiver(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=10)
    )
    receiver = _deploy_answering(token, ON_RECEIVED)
    token.transfer("consumer_1", receiver, created.token_id, 4)
    assert token.balances(receiver, created.token_id).available == 4


def test_transfer_to_a_rejecting_receiver(token: TokenClient) -> None:
    created = token.issue(
        **issue_args(issuer="rec_dealer", token_type=REC, quantity=10)
    )
    receiver = _deploy_answering(token, "deadbeef")
    with reverts("recipient rejected the tokens"):
        token.transfer("consumer_1", receiver, created.token_id, 1)


def test_batch_transfer_and_its_receiver_checks(token: TokenClient) -> None:
    first = token.issue(**issue_args(issuer="rec_dealer", token_type=REC, quantity=10))
    second = token.issue(**issue_args(issuer="offset_dealer", token_type=OFFSET))
    owner = token.chain.account("consumer_1").address
    ids, amounts = [first.token_id, second.token_id], [2, 3]

    accepting = _deploy_answering(token, ON_BATCH_RECEIVED)
    send(
        token,
        "consumer_1",
        "safeBatchTransferFrom",
        owner,
        accepting,
        ids,
        amounts,
        b"",
    )
    assert token.balances(accepting, second.token_id).available == 3

    rejecting = _deploy_answering(token, ON_RECEIVED)  # the single-transfer answer
    with reverts("recipient rejected the tokens"):
        send(
            token,
            "consumer_1",
            "safeBatchTransferFrom",
            owner,
            rejecting,
            ids,
            [1, 1],
            b"",
        )
    token.register_consumer(token.address)  # a contract with no such function
    with reverts("recipient is not an ERC1155 receiver"):
        send(
            token,
            "consumer_1",
            "safeBatchTransferFrom",
            owner,
            token.address,
            ids,
            [1, 1],
            b"",
        )
    audited = token.issue(**issue_args()).token_id
    other = token.chain.account("consumer_2").address
    with reverts("audited emissions tokens are not transferable"):
        send(
            token,
            "consumer_1",
            "safeBatchTransferFrom",
            owner,
            other,
            [audited],
            [1],
            b"",
        )


def test_token_type_view(token: TokenClient) -> None:
    created = token.issue(**issue_args(issuer="offset_dealer", token_type=OFFSET))
    assert token._read("getTokenTypeId", [created.token_id]) == (OFFSET,)
    with reverts("token does not exist"):
        token._read("getTokenTypeId", [created.token_id + 1])


def test_every_revert_reason_in_the_source_is_tested() -> None:
    source = (CONTRACTS_DIR / "src" / "EmissionsTokenNetwork.sol").read_text()
    reasons = set(re.findall(r'require\([^;]*?,\s*"([^"]+)"\s*\)', source, re.DOTALL))
    reasons |= set(re.findall(r'revert\("([^"]+)"\)', source))
    reasons |= set(re.findall(r'return "(caller is not [^"]+)"', source))
    assert len(reasons) >= 20
    tests = Path(__file__).read_text()
    untested = sorted(r for r in reasons if f'"{r}"' not in tests)
    assert untested == []
