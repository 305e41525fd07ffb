"""Named test accounts with keys derived from their names.

The keys are public test keys (keccak of a fixed prefix and the name), so the same
name has the same address on every run and on every chain: never fund them on a
network that holds value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from coincurve import PrivateKey
from eth_hash.auto import keccak

from harness.errors import ConfigError

# The system's roles (DOMAIN.md section 3), one account each, and consumers.
DEFAULT_ACCOUNT_NAMES: tuple[str, ...] = (
    "admin",
    "emissions_auditor",
    "rec_dealer",
    "offset_dealer",
    "consumer_1",
    "consumer_2",
)
DEFAULT_BALANCE_WEI = 1_000_000 * 10**18


@dataclass(frozen=True)
class Account:
    """One named account. ``address`` is checksummed hex."""

    name: str
    address: str
    raw_address: bytes = field(repr=False)
    private_key: bytes = field(repr=False)

    @classmethod
    def from_name(cls, name: str) -> Account:
        return cls.from_key(name, keccak(b"harness-test-account:" + name.encode()))

    @classmethod
    def from_key(cls, name: str, private_key: bytes) -> Account:
        raw_address = address_of_key(private_key)
        return cls(name, to_checksum(raw_address), raw_address, private_key)


class Accounts(Mapping[str, Account]):
    """Named accounts, looked up by name with a clear error for an unknown one."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._by_name = {a.name: a for a in accounts}

    @classmethod
    def named(cls, names: Iterable[str] = DEFAULT_ACCOUNT_NAMES) -> Accounts:
        return cls(Account.from_name(n) for n in names)

    def __getitem__(self, name: str) -> Account:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise ConfigError(
                f"no account named {name!r}", hint=f"known accounts: {known}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def by_address(self, address: str) -> Account | None:
        wanted = address.lower()
        for account in self._by_name.values():
            if account.address.lower() == wanted:
                return account
        return None


def address_of_key(private_key: bytes) -> bytes:
    public = PrivateKey(private_key).public_key.format(compressed=False)
    return keccak(public[1:])[-20:]


def to_checksum(raw_address: bytes) -> str:
    """EIP-55 mixed-case hex of a 20-byte address."""
    plain = raw_address.hex()
    digest = keccak(plain.encode()).hex()
    chars = (
        c.upper() if int(d, 16) >= 8 else c
        for c, d in zip(plain, digest[:40], strict=True)
    )
    return "0x" + "".join(chars)


def to_raw_address(address: str | bytes) -> bytes:
    if isinstance(address, bytes):
        if len(address) != 20:
            raise ConfigError(f"an address has 20 bytes, got {len(address)}")
        return address
    text = address[2:] if address.startswith(("0x", "0X")) else address
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise ConfigError(f"{address!r} is not an Ethereum address (20 bytes of hex)")
    return raw
