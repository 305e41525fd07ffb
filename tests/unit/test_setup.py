"""What scripts/bootstrap.sh promises: Fabric's Python SDK is installed without
its pins that do not build on Python 3.11."""

from importlib import metadata

import pytest


def test_fabric_sdk_py_is_installed_without_its_broken_pins() -> None:
    assert metadata.version("fabric-sdk-py") == "1.0.0"
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("pysha3")
