import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from harness.errors import HarnessError
from harness.hsm import ski_of
from harness.identity import (
    FileSigner,
    SignerKey,
    der_from_raw,
    hash_for,
    is_low_s,
    low_s,
)
from harness.identity._signer import curve_order

P256_ORDER = curve_order(ec.SECP256R1())


def test_file_signer_signatures_verify_and_are_all_low_s() -> None:
    signer = FileSigner.generate()
    for index in range(200):
        message = f"message {index}".encode()
        signature = signer.sign(message)
        signer.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        assert is_low_s(signature, signer.public_key.curve)


def test_high_s_twin_is_valid_ecdsa_but_not_low_s() -> None:
    signer = FileSigner.generate()
    signature = signer.sign(b"payload")
    r, s = decode_dss_signature(signature)
    twin = encode_dss_signature(r, P256_ORDER - s)

    signer.public_key.verify(twin, b"payload", ec.ECDSA(hashes.SHA256()))
    assert not is_low_s(twin, ec.SECP256R1())
    assert low_s(r, P256_ORDER - s, ec.SECP256R1()) == (r, s)


def test_raw_token_signature_is_normalised_and_encoded() -> None:
    signer = FileSigner.generate()
    r, s = decode_dss_signature(signer.sign(b"x"))
    high = P256_ORDER - s
    raw = r.to_bytes(32, "big") + high.to_bytes(32, "big")

    assert decode_dss_signature(der_from_raw(raw, ec.SECP256R1())) == (r, s)


def test_p384_keys_hash_with_sha384() -> None:
    signer = FileSigner.generate(ec.SECP384R1())
    signature = signer.sign(b"m")

    assert isinstance(hash_for(ec.SECP384R1()), hashes.SHA384)
    signer.public_key.verify(signature, b"m", ec.ECDSA(hashes.SHA384()))
    with pytest.raises(InvalidSignature):
        signer.public_key.verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_ski_is_sha256_of_the_uncompressed_point() -> None:
    import hashlib

    from cryptography.hazmat.primitives import serialization

    signer = FileSigner.generate()
    point = signer.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert ski_of(signer.public_key) == hashlib.sha256(point).digest()
    assert signer.ski == ski_of(signer.public_key)


def test_signer_key_signs_for_cryptography_but_never_exports() -> None:
    signer = FileSigner.generate()
    key = SignerKey(signer)

    signature = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    signer.public_key.verify(signature, b"data", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(HarnessError, match="cannot be exported"):
        key.private_numbers()
    with pytest.raises(HarnessError, match="cannot be exported"):
        key.private_bytes()
