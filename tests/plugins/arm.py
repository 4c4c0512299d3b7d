"""The ARM emulator for tests: one HTTPS server per session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localazure.arm import ArmEmulator
from localazure.certs import TestCertificates


@pytest.fixture(scope="session")
def arm_emulator(test_certs: TestCertificates) -> Iterator[ArmEmulator]:
    """The session's emulator, trusted through the session's test CA."""
    with ArmEmulator(test_certs) as emulator:
        yield emulator


@pytest.fixture
def arm(arm_emulator: ArmEmulator) -> ArmEmulator:
    """The emulator with no groups, clusters, scenarios, faults or logged calls."""
    arm_emulator.reset()
    return arm_emulator


@pytest.fixture
def arm_env(arm: ArmEmulator) -> dict[str, str]:
    """ARM_ENDPOINT, REQUESTS_CA_BUNDLE, IDENTITY_ENDPOINT and IDENTITY_HEADER for the emulator."""
    return arm.env()
