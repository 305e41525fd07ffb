"""A real SoftHSM2 token: labels, PINs, Fabric's key attributes, lookups by SKI."""

import hashlib
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from harness.errors import (
    ConfigError,
    HsmError,
    KeyNotFoundError,
    PinIncorrectError,
    TokenNotFoundError,
)
from harness.hsm import KeyIdMapping, SoftHsm, Token, ski_of

pytestmark = pytest.mark.hsm


def _objects(token: Token, cls: ObjectClass) -> list[object]:
    with token.session() as pooled, token.lock:
        return list(pooled.session.get_objects({Attribute.CLASS: cls}))


def test_tokens_are_found_by_label_whatever_their_slot(softhsm: SoftHsm) -> None:
    softhsm.init_token("Second", pin="11223344", so_pin="5678")

    assert softhsm.labels() == ["ForFabric", "Second"]
    with Token(softhsm, "Second", "11223344") as second:
        assert second.label == "Second"
        assert second.object_count() == 0


def test_a_label_in_use_is_refused(softhsm: SoftHsm) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        softhsm.init_token("ForFabric")


def test_generated_key_has_fabrics_attributes(token: Token) -> None:
    key = token.generate_key()

    [private] = _objects(token, ObjectClass.PRIVATE_KEY)
    [public] = _objects(token, ObjectClass.PUBLIC_KEY)
    assert key.ski == ski_of(key.public_key)
    for obj in (private, public):
        assert obj[Attribute.ID] == key.ski
        assert obj[Attribute.LABEL] == key.ski.hex()
        assert obj[Attribute.TOKEN] is True
    assert private[Attribute.PRIVATE] is True
    assert private[Attribute.SENSITIVE] is True
    assert private[Attribute.EXTRACTABLE] is False
    with token.lock, pytest.raises(pkcs11.exceptions.AttributeSensitive):
        private[Attribute.VALUE]


def test_immutable_keys_fail_cleanly_on_softhsm(token: Token) -> None:
    """SoftHSM2 keeps CKA_MODIFIABLE read-only after creation, which is why the
    fabric-test HSM network sets Immutable false: the error says so and no
    half-made key is left behind."""
    with pytest.raises(HsmError, match="Immutable: false"):
        token.generate_key(immutable=True)

    assert token.object_count() == 0


def test_p384_keys_are_supported(token: Token) -> None:
    key = token.generate_key("P-384")

    assert key.curve_name == "secp384r1"
    assert len(token.sign_digest(key.ski, hashlib.sha384(b"m").digest())) == 96


def test_find_key_by_ski_and_a_clear_error_for_an_unknown_one(token: Token) -> None:
    key = token.generate_key()

    assert token.find_key(key.ski).public_key == key.public_key
    with pytest.raises(KeyNotFoundError, match="no private key with SKI"):
        token.find_key(b"\x00" * 32)


def test_alt_id_replaces_the_ski_as_cka_id(softhsm: SoftHsm) -> None:
    with Token(softhsm, alt_id="fabric-alt") as token:
        key = token.generate_key()
    assert key.cka_id == b"fabric-alt"

    with Token(softhsm) as token, pytest.raises(KeyNotFoundError):
        token.find_key(key.ski)
    mapping = KeyIdMapping.from_config(key.ski.hex(), "fabric-alt")
    with Token(softhsm, key_ids=[mapping]) as token:
        assert token.find_key(key.ski).public_key == key.public_key


def test_key_made_outside_the_harness_is_found_through_key_ids(token: Token) -> None:
    with token.session() as pooled, token.lock:
        params = pooled.session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, _ = params.generate_keypair(store=True, id=b"external-7", label="ext")
        point = public[Attribute.EC_POINT]
    from harness.hsm._token import _public_key

    ski = ski_of(_public_key(point))
    reports = token.key_reports()
    assert [r.id_is_ski for r in reports] == [False]

    with pytest.raises(KeyNotFoundError):
        token.find_key(ski)
    with Token(token.softhsm, key_ids=[KeyIdMapping(ski, b"external-7")]) as mapped:
        assert mapped.find_key(ski).cka_id == b"external-7"


def test_key_ids_with_a_bad_ski_are_refused() -> None:
    with pytest.raises(ConfigError, match="not hexadecimal"):
        KeyIdMapping.from_config("zz", "id")


def test_wrong_pin_is_refused_and_the_token_is_unharmed(softhsm: SoftHsm) -> None:
    with Token(softhsm) as token:
        key = token.generate_key()

    for _ in range(3):
        with pytest.raises(PinIncorrectError, match="rejected the user PIN") as caught:
            Token(softhsm, pin="00000000")
        assert "00000000" not in str(caught.value)

    with Token(softhsm) as token:
        assert token.find_key(key.ski).ski == key.ski


def test_unknown_label_lists_the_labels_and_guesses(softhsm: SoftHsm) -> None:
    with pytest.raises(
        TokenNotFoundError, match="tokens here: ForFabric; did you mean"
    ):
        Token(softhsm, "ForFabrik")


def test_home_without_an_initialised_token_says_to_init(tmp_path: Path) -> None:
    empty = SoftHsm.create(tmp_path / "empty")

    with pytest.raises(TokenNotFoundError, match="holds no initialised token"):
        Token(empty)


def test_one_config_per_process_while_its_tokens_are_open(
    token: Token, tmp_path: Path
) -> None:
    other = SoftHsm.create(tmp_path / "other")

    with pytest.raises(HsmError, match="already uses SoftHSM2 config"):
        other.labels()


def test_homes_can_follow_each_other_in_one_process(tmp_path: Path) -> None:
    first = SoftHsm.create(tmp_path / "first")
    first.init_token("One")
    second = SoftHsm.create(tmp_path / "second")
    second.init_token("Two")

    assert first.labels() == ["One"]
    assert second.labels() == ["Two"]


def test_closed_token_refuses_work(softhsm: SoftHsm) -> None:
    token = Token(softhsm)
    key = token.generate_key()
    token.close()

    with pytest.raises(HsmError, match="closed"):
        token.sign_digest(key.ski, b"\x00" * 32)
