"""AzureWebJobsStorage in its identity-based form, against Azurite in OAuth mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from localazure.arm import ArmEmulator
from localazure.azurite import Azurite
from tests.plugins.provisioner import Provisioner, sample_request


def test_identity_based_storage_connection_end_to_end(
    provisioner_factory: Callable[..., Provisioner],
    arm: ArmEmulator,
    azurite_oauth: Azurite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """__queueServiceUri/__tableServiceUri + managed identity: the trigger, status and re-enqueue
    all authenticate with tokens from the identity endpoint, never with the account key."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(arm.ca_pem))  # the test's own clients
    app = provisioner_factory(
        storage=azurite_oauth,
        AzureWebJobsStorage="",
        AzureWebJobsStorage__queueServiceUri=azurite_oauth.queue_url,
        AzureWebJobsStorage__tableServiceUri=azurite_oauth.table_url,
        AzureWebJobsStorage__blobServiceUri=azurite_oauth.blob_url,
        AzureWebJobsStorage__credential="managedidentity",
        RG_VISIBILITY_DELAY_SECONDS="1",
    )
    app.start()
    arm.set_read_lag(reads=1)  # forces one re-enqueue through the identity-based queue client
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], timeout=60)
    assert status["phase"] == "succeeded", status
    fetches = arm.token_fetches
    storage = sum(n for audience, n in fetches.items() if "storage.azure.com" in audience)
    management = sum(n for audience, n in fetches.items() if audience.startswith(arm.url))
    # The app builds its clients once per process: one ARM token for every call it made. (The
    # local host's own queue listeners add their storage tokens to the count.)
    assert storage >= 1, fetches
    assert management == 1, fetches
