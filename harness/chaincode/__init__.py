"""Chaincodes and the shim they are written against (``harness.chaincode.shim``).

Importing this package registers the bundled implementations by name.
"""

from harness.chaincode import _kvstore, datalock, utilityemissions
from harness.chaincode.shim import (
    Chaincode,
    ChaincodeStub,
    Response,
    error,
    lookup,
    register,
    registered,
    success,
)

__all__ = [
    "Chaincode",
    "ChaincodeStub",
    "Response",
    "datalock",
    "error",
    "lookup",
    "register",
    "registered",
    "success",
    "utilityemissions",
]

del _kvstore
