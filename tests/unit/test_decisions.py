"""The pure decisions: delays, visibility, budgets, policy, ownership, the AKS watch and body."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from provisioning.decisions import (
    MAX_DELAY_SECONDS,
    Visibility,
    after_check,
    after_transient,
    after_watch,
    back_to_visibility,
    cluster_body,
    cluster_started,
    ownership_error,
    policy_error,
    resource_tags,
    transient_delay,
    visibility,
)
from provisioning.errors import ErrorInfo
from provisioning.identity import Requester
from provisioning.status import Phase
from provisioning.views import GroupView
from tests.unit.factories import (
    CLUSTER_ID,
    GROUP_ID,
    OTHER_SUBSCRIPTION,
    REQUEST_ID,
    SUBSCRIPTION,
    T0,
    group,
    make_record,
    make_request,
    make_settings,
)

SETTINGS = make_settings()
ALICE = Requester("user", "0a1b2c3d-0000-4000-8000-00000000a11c", "tenant", "alice@contoso.example")
BOB = Requester("user", "0b0b0b0b-0000-4000-8000-000000000b0b", "tenant", "bob@contoso.example")
THROTTLED = ErrorInfo("TooManyRequests", "slow down", correlation_id="corr-1")
PROPERTIES = hypothesis_settings(database=None, deadline=None, max_examples=300)
retry_afters = st.none() | st.floats(min_value=0, max_value=10_000, allow_nan=False)

# --- transient_delay ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 320), (8, 640), (9, 900)],
)
def test_backoff_doubles_from_five_seconds_up_to_the_cap(failures: int, expected: int) -> None:
    """Without Retry-After the delay is 5 * 2**(failures-1) seconds, capped at 15 minutes."""
    assert transient_delay(failures, None) == expected


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [
        (1, 60, 60),
        (1, 2.1, 5),
        (1, 5.2, 6),
        (4, 30, 40),
        (4, 41, 41),
        (1, 900, 900),
        (1, 3600, 900),
        (20, 0, 900),
    ],
)
def test_delay_is_the_larger_of_retry_after_and_backoff_capped(
    failures: int, retry_after: float, expected: int
) -> None:
    """The delay is ``min(900, ceil(max(Retry-After, backoff)))``."""
    assert transient_delay(failures, retry_after) == expected


@pytest.mark.parametrize(("jitter", "expected"), [(0.0, 10), (0.4, 11), (3.0, 13), (-7.0, 10)])
def test_jitter_adds_to_backoff_and_is_never_negative(jitter: float, expected: int) -> None:
    """Jitter lengthens the backoff (rounded up); a negative jitter is ignored."""
    assert transient_delay(2, None, jitter) == expected


def test_max_delay_is_fifteen_minutes() -> None:
    """The cap is 15 minutes in seconds."""
    assert MAX_DELAY_SECONDS == 900


def test_infinite_retry_after_is_capped() -> None:
    """An infinite Retry-After is capped at 15 minutes like any other long wait."""
    assert transient_delay(1, math.inf) == 900


@PROPERTIES
@given(
    failures=st.integers(min_value=-5, max_value=10**30),
    retry_after=retry_afters,
    jitter=st.floats(min_value=-10, max_value=10, allow_nan=False),
)
def test_delay_never_exceeds_fifteen_minutes(
    failures: int, retry_after: float | None, jitter: float
) -> None:
    """Whatever the failures, Retry-After and jitter: 1 <= delay <= 900, even for huge counts."""
    delay = transient_delay(failures, retry_after, jitter)
    assert isinstance(delay, int)
    assert 1 <= delay <= 900


@PROPERTIES
@given(
    failures=st.integers(min_value=1, max_value=10**6),
    retry_after=st.floats(min_value=0, max_value=900, allow_nan=False),
)
def test_delay_never_shorter_than_an_honourable_retry_after(
    failures: int, retry_after: float
) -> None:
    """When Retry-After is at most 15 minutes, the delay is never shorter than it."""
    assert transient_delay(failures, retry_after) >= retry_after


@PROPERTIES
@given(
    failures=st.integers(min_value=1, max_value=10**6),
    more=st.integers(min_value=0, max_value=10**6),
    retry_after=retry_afters,
)
def test_delay_is_monotone_in_failures(failures: int, more: int, retry_after: float | None) -> None:
    """More failures never mean a shorter wait."""
    assert transient_delay(failures + more, retry_after) >= transient_delay(failures, retry_after)


# --- after_transient ------------------------------------------------------------------------


def test_transient_error_schedules_a_retry_and_counts_it() -> None:
    """A transient error bumps transient_failures and retries after the computed delay."""
    record = make_record(transient_failures=2, attempt=5)
    outcome = after_transient(record, THROTTLED, 60, SETTINGS, 0.0)
    assert outcome.delay == 60
    assert outcome.record.transient_failures == 3
    assert outcome.record.phase is Phase.ENSURING_RESOURCE_GROUP
    assert outcome.record.error is None


def test_transient_errors_do_not_spend_visibility_attempts() -> None:
    """The transient budget is separate: ``attempt`` is left alone by a transient error."""
    record = make_record(attempt=11)
    outcome = after_transient(record, THROTTLED, None, SETTINGS, 0.0)
    assert outcome.record.attempt == 11


@pytest.mark.parametrize("retries", [0, 1, 10])
def test_transient_budget_allows_exactly_the_configured_retries(retries: int) -> None:
    """TRANSIENT_RETRIES retries are scheduled; the next transient error fails the request."""
    settings = make_settings(TRANSIENT_RETRIES=str(retries))
    record = make_record()
    for _ in range(retries):
        outcome = after_transient(record, THROTTLED, None, settings, 0.0)
        assert outcome.delay is not None
        record = outcome.record
    final = after_transient(record, THROTTLED, None, settings, 0.0)
    assert final.delay is None
    assert final.record.phase is Phase.FAILED


def test_exhausted_transient_budget_keeps_the_last_code_and_correlation() -> None:
    """Giving up records the last error's code, message and correlation id."""
    record = make_record(transient_failures=10)
    outcome = after_transient(record, THROTTLED, None, SETTINGS, 0.0)
    assert outcome.record.error is not None
    assert outcome.record.error.code == "TooManyRequests"
    assert outcome.record.error.correlation_id == "corr-1"
    assert "slow down" in outcome.record.error.message


# --- visibility -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (group("Succeeded"), Visibility.VISIBLE),
        (group("succeeded"), Visibility.VISIBLE),
        (group("Deleting"), Visibility.DELETING),
        (group("DELETING"), Visibility.DELETING),
        (group("Accepted"), Visibility.NOT_VISIBLE),
        (group("Creating"), Visibility.NOT_VISIBLE),
        (group("Updating"), Visibility.NOT_VISIBLE),
        (group("Failed"), Visibility.NOT_VISIBLE),
        (group(None), Visibility.NOT_VISIBLE),
        (group(""), Visibility.NOT_VISIBLE),
        (group(exists=False), Visibility.NOT_VISIBLE),
    ],
)
def test_only_a_succeeded_group_is_visible(view: GroupView, expected: Visibility) -> None:
    """Succeeded is visible, Deleting is its own case, every other state is not visible yet."""
    assert visibility(view) is expected


# --- after_check ----------------------------------------------------------------------------


def test_visible_group_lets_aks_start() -> None:
    """A Succeeded group ends the visibility checks: no outcome, the caller creates AKS."""
    assert after_check(make_record(attempt=7), group("Succeeded"), T0, SETTINGS) is None


@pytest.mark.parametrize("state", ["Accepted", "Creating", None])
def test_hidden_group_spends_one_attempt_and_waits(state: str | None) -> None:
    """A group not visible yet spends one visibility attempt and checks again after the delay."""
    outcome = after_check(make_record(attempt=3), group(state), T0, SETTINGS)
    assert outcome is not None
    assert outcome.record.attempt == 4
    assert outcome.delay == 5
    assert outcome.record.phase is Phase.ENSURING_RESOURCE_GROUP


@pytest.mark.parametrize("attempts", [1, 3, 12])
def test_group_not_found_after_exactly_the_configured_hidden_checks(attempts: int) -> None:
    """The request fails ResourceGroupNotFound on the RG_VISIBILITY_ATTEMPTS-th hidden check."""
    settings = make_settings(RG_VISIBILITY_ATTEMPTS=str(attempts))
    record = make_record()
    delays: list[int | None] = []
    outcome = None
    while len(delays) <= attempts and (not delays or delays[-1] is not None):  # bounded
        outcome = after_check(record, group(exists=False), T0, settings)
        assert outcome is not None
        delays.append(outcome.delay)
        record = outcome.record
    assert len(delays) == attempts, "the check count ends at RG_VISIBILITY_ATTEMPTS"
    assert delays[-1] is None
    assert outcome is not None
    assert outcome.record.phase is Phase.FAILED
    assert outcome.record.error is not None
    assert outcome.record.error.code == "ResourceGroupNotFound"


def test_hidden_checks_are_separate_from_transient_budget() -> None:
    """Transient failures already spent do not shorten the visibility attempts."""
    record = make_record(attempt=1, transient_failures=10)
    outcome = after_check(record, group("Accepted"), T0, SETTINGS)
    assert outcome is not None
    assert outcome.delay is not None
    assert outcome.record.transient_failures == 10


def test_deleting_group_waits_without_spending_attempts() -> None:
    """A group in Deleting is waited out: attempt unchanged, start of deletion remembered."""
    record = make_record(attempt=12, rg_created=True)
    outcome = after_check(record, group("Deleting"), T0, SETTINGS)
    assert outcome is not None
    assert outcome.delay == SETTINGS.rg_deleting_delay_seconds
    assert outcome.record.attempt == 12
    assert outcome.record.deleting_since == T0
    assert outcome.record.rg_created is False
    assert outcome.record.phase is Phase.ENSURING_RESOURCE_GROUP


def test_deleting_keeps_the_first_time_it_was_seen() -> None:
    """Later Deleting checks keep the original ``deleting_since``."""
    record = make_record(deleting_since=T0)
    outcome = after_check(record, group("Deleting"), T0 + timedelta(minutes=10), SETTINGS)
    assert outcome is not None
    assert outcome.record.deleting_since == T0


@pytest.mark.parametrize(("minutes", "fails"), [(29, False), (30, True), (31, True)])
def test_deletion_wait_is_bounded(minutes: int, fails: bool) -> None:
    """A group still Deleting RG_DELETING_WAIT_MINUTES after first seen fails the request."""
    record = make_record(deleting_since=T0)
    outcome = after_check(record, group("Deleting"), T0 + timedelta(minutes=minutes), SETTINGS)
    assert outcome is not None
    assert (outcome.record.phase is Phase.FAILED) is fails
    assert (outcome.delay is None) is fails
    if fails:
        assert outcome.record.error is not None
        assert outcome.record.error.code == "ResourceGroupBeingDeleted"
        assert outcome.record.error.scope == GROUP_ID


def test_hidden_check_after_deletion_clears_deleting_since() -> None:
    """Once the group is gone rather than Deleting, the deletion clock is reset."""
    record = make_record(deleting_since=T0)
    outcome = after_check(record, group(exists=False), T0, SETTINGS)
    assert outcome is not None
    assert outcome.record.deleting_since is None


# --- ownership_error ------------------------------------------------------------------------


def test_foreign_group_is_refused() -> None:
    """A group without managed-by=aks-provisioner fails ResourceGroupNotOwned, scoped to it."""
    error = ownership_error(group(tags={"owner": "someone"}), SETTINGS)
    assert error is not None
    assert error.info.code == "ResourceGroupNotOwned"
    assert error.info.scope == GROUP_ID
    assert "ADOPT_EXISTING_RESOURCE_GROUPS" in error.info.message


@pytest.mark.parametrize(
    "view",
    [
        group(exists=False),
        group(tags={"managed-by": "aks-provisioner", "requested-by": "queue"}),
        group(tags={"managed-by": "aks-provisioner"}),  # made before requesters were recorded
        group(
            tags={"managed-by": "aks-provisioner", "request_id": "other", "requested-by": "queue"}
        ),
    ],
)
def test_own_or_missing_group_is_accepted(view: GroupView) -> None:
    """A missing group, or one this app made for the same requester, raises no ownership error."""
    assert ownership_error(view, SETTINGS) is None


@pytest.mark.parametrize(
    "tags",
    [
        {"managed-by": "aks-provisioner", "requested-by": ALICE.key},
        {"managed-by": "aks-provisioner"},  # made before requesters: the queue's
    ],
)
def test_app_group_of_another_requester_is_refused(tags: dict[str, str]) -> None:
    """Ownership is per requester: a group this app made for someone else is not reused."""
    error = ownership_error(group(tags=tags), SETTINGS, BOB)
    assert error is not None
    assert error.info.code == "ResourceGroupNotOwned"
    assert "another requester" in error.info.message or "requested-by" in error.info.message


def test_app_group_of_the_same_requester_is_reused() -> None:
    """Bob's group (requested-by=Bob's oid) takes Bob's next cluster."""
    tags = {"managed-by": "aks-provisioner", "requested-by": BOB.key}
    assert ownership_error(group(tags=tags), SETTINGS, BOB) is None


@pytest.mark.parametrize("adopt", ["true", "false"])
def test_group_managed_by_another_resource_is_never_a_target(adopt: str) -> None:
    """ARM managedBy set (an AKS node group, a managed app): refused even with adoption on."""
    view = replace(
        group(tags={"managed-by": "aks-provisioner", "requested-by": BOB.key}),
        managed_by="/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerService/"
        "managedClusters/aks",
    )
    settings = make_settings(ADOPT_EXISTING_RESOURCE_GROUPS=adopt)
    error = ownership_error(view, settings, BOB)
    assert error is not None
    assert error.info.code == "ResourceGroupNotOwned"
    assert "managedClusters/aks" in error.info.message


@pytest.mark.parametrize("tags", [{}, {"managed-by": "terraform"}])
def test_adoption_setting_allows_foreign_groups(tags: dict[str, str]) -> None:
    """With ADOPT_EXISTING_RESOURCE_GROUPS=true a foreign group is used."""
    settings = make_settings(ADOPT_EXISTING_RESOURCE_GROUPS="true")
    assert ownership_error(group(tags=tags), settings) is None


# --- policy_error ---------------------------------------------------------------------------


def test_allowed_request_passes_policy() -> None:
    """A request in an allowed subscription (any location, no prefix) is allowed."""
    assert policy_error(make_request(), SETTINGS) is None


def test_empty_allowed_subscriptions_refuses_everything_naming_the_setting() -> None:
    """With ALLOWED_SUBSCRIPTIONS empty every request fails SubscriptionNotAllowed."""
    error = policy_error(make_request(), make_settings(ALLOWED_SUBSCRIPTIONS=""))
    assert error is not None
    assert error.info.code == "SubscriptionNotAllowed"
    assert "ALLOWED_SUBSCRIPTIONS" in error.info.message


def test_subscription_not_in_list_is_refused() -> None:
    """A subscription missing from ALLOWED_SUBSCRIPTIONS fails SubscriptionNotAllowed."""
    error = policy_error(make_request(subscription_id=OTHER_SUBSCRIPTION), SETTINGS)
    assert error is not None
    assert error.info.code == "SubscriptionNotAllowed"
    assert OTHER_SUBSCRIPTION in error.info.message


def test_subscription_list_is_case_insensitive() -> None:
    """An upper-case GUID in ALLOWED_SUBSCRIPTIONS still allows the (lowercased) request."""
    settings = make_settings(ALLOWED_SUBSCRIPTIONS=SUBSCRIPTION.upper())
    assert policy_error(make_request(), settings) is None


@pytest.mark.parametrize(
    ("allowed", "location", "refused"),
    [
        ("", "australiaeast", False),
        ("West Europe", "westeurope", False),
        ("westeurope,northeurope", "northeurope", False),
        ("westeurope", "eastus", True),
    ],
)
def test_allowed_locations(allowed: str, location: str, refused: bool) -> None:
    """ALLOWED_LOCATIONS empty allows any region; otherwise others fail LocationNotAllowed."""
    error = policy_error(make_request(location=location), make_settings(ALLOWED_LOCATIONS=allowed))
    assert (error is not None) is refused
    if error is not None:
        assert error.info.code == "LocationNotAllowed"
        assert "ALLOWED_LOCATIONS" in error.info.message


@pytest.mark.parametrize(
    ("group_name", "refused"),
    [("rg-team-a", False), ("RG-TEAM-b", False), ("rg-other", True)],
)
def test_resource_group_prefix(group_name: str, refused: bool) -> None:
    """RESOURCE_GROUP_PREFIX restricts group names (case-insensitively)."""
    settings = make_settings(RESOURCE_GROUP_PREFIX="rg-team-")
    error = policy_error(make_request(resource_group=group_name), settings)
    assert (error is not None) is refused
    if error is not None:
        assert "RESOURCE_GROUP_PREFIX" in error.info.message


# --- back_to_visibility ---------------------------------------------------------------------


def test_aks_group_not_found_goes_back_to_visibility_checks() -> None:
    """AKS not seeing the group resets to ensuring_resource_group with fresh attempts."""
    record = make_record(
        phase=Phase.CREATING_CLUSTER,
        attempt=9,
        operation_url="https://management.azure.com/op",
        watch_started=T0,
    )
    outcome = back_to_visibility(record, SETTINGS, "not found")
    assert outcome.record.phase is Phase.ENSURING_RESOURCE_GROUP
    assert outcome.record.attempt == 1
    assert outcome.record.aks_rg_not_found == 1
    assert outcome.record.operation_url is None
    assert outcome.record.watch_started is None
    assert outcome.delay == SETTINGS.rg_visibility_delay_seconds


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_aks_group_not_found_retries_are_bounded(retries: int) -> None:
    """After AKS_RG_NOT_FOUND_RETRIES re-checks the next one fails ResourceGroupNotFound."""
    settings = make_settings(AKS_RG_NOT_FOUND_RETRIES=str(retries))
    record = make_record(phase=Phase.CREATING_CLUSTER)
    for _ in range(retries):
        outcome = back_to_visibility(record, settings, "not found")
        assert outcome.delay is not None
        record = replace(outcome.record, phase=Phase.CREATING_CLUSTER)
    final = back_to_visibility(record, settings, "still not found")
    assert final.delay is None
    assert final.record.phase is Phase.FAILED
    assert final.record.error is not None
    assert final.record.error.code == "ResourceGroupNotFound"
    assert "still not found" in final.record.error.message


# --- cluster_started ------------------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "delay"), [(None, 30), (10, 30), (45.5, 46), (5000, 900)])
def test_cluster_started_watches_after_a_bounded_delay(
    retry_after: float | None, delay: int
) -> None:
    """The first watch waits max(CLUSTER_WATCH_DELAY_SECONDS, Retry-After), at most 900 s."""
    outcome = cluster_started(make_record(), CLUSTER_ID, None, retry_after, T0, SETTINGS)
    assert outcome.delay == delay


def test_cluster_started_records_the_create() -> None:
    """Starting the create moves to creating_cluster and records id, operation and start time."""
    op = "https://management.azure.com/op/1"
    outcome = cluster_started(make_record(), CLUSTER_ID, op, None, T0, SETTINGS)
    assert outcome.record.phase is Phase.CREATING_CLUSTER
    assert outcome.record.cluster_id == CLUSTER_ID
    assert outcome.record.operation_url == op
    assert outcome.record.watch_started == T0


def test_cluster_restarted_keeps_watch_start_and_known_id() -> None:
    """A re-issued create keeps the first watch start, and an empty id keeps the known one."""
    record = make_record(watch_started=T0, cluster_id=CLUSTER_ID)
    later = T0 + timedelta(minutes=5)
    outcome = cluster_started(record, "", None, None, later, SETTINGS)
    assert outcome.record.watch_started == T0
    assert outcome.record.cluster_id == CLUSTER_ID


# --- after_watch ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Succeeded", "succeeded"])
def test_succeeded_create_ends_the_request(status: str) -> None:
    """A Succeeded operation ends the request succeeded, with no next message and no error."""
    record = make_record(
        phase=Phase.CREATING_CLUSTER, watch_started=T0, error=ErrorInfo("Old", "old")
    )
    outcome = after_watch(record, status, None, None, T0, SETTINGS)
    assert outcome.record.phase is Phase.SUCCEEDED
    assert outcome.record.error is None
    assert outcome.delay is None


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        ("Failed", ErrorInfo("QuotaExceeded", "no cores"), "QuotaExceeded"),
        ("Canceled", None, "ClusterCreateFailed"),
        ("Failed", None, "ClusterCreateFailed"),
    ],
)
def test_failed_create_fails_the_request(status: str, error: ErrorInfo | None, code: str) -> None:
    """A Failed or Canceled operation fails the request with AKS's error (or a generic one)."""
    record = make_record(phase=Phase.CREATING_CLUSTER, watch_started=T0)
    outcome = after_watch(record, status, error, None, T0, SETTINGS)
    assert outcome.record.phase is Phase.FAILED
    assert outcome.delay is None
    assert outcome.record.error is not None
    assert outcome.record.error.code == code


def test_create_failing_with_group_not_found_rechecks_the_group() -> None:
    """AKS failing ResourceGroupNotFound goes back to the visibility checks, not to failed."""
    record = make_record(phase=Phase.CREATING_CLUSTER, watch_started=T0)
    error = ErrorInfo("ResourceGroupNotFound", "rg-team-a could not be found")
    outcome = after_watch(record, "Failed", error, None, T0, SETTINGS)
    assert outcome.record.phase is Phase.ENSURING_RESOURCE_GROUP
    assert outcome.record.aks_rg_not_found == 1
    assert outcome.delay is not None


@pytest.mark.parametrize(
    ("minutes", "timed_out"), [(0, False), (59, False), (60, True), (300, True)]
)
def test_create_times_out(minutes: int, timed_out: bool) -> None:
    """An operation still running CLUSTER_CREATE_TIMEOUT_MINUTES after it started times out."""
    record = make_record(phase=Phase.CREATING_CLUSTER, watch_started=T0, cluster_id=CLUSTER_ID)
    now = T0 + timedelta(minutes=minutes)
    outcome = after_watch(record, "InProgress", None, None, now, SETTINGS)
    assert (outcome.record.phase is Phase.FAILED) is timed_out
    if timed_out:
        assert outcome.delay is None
        assert outcome.record.error is not None
        assert outcome.record.error.code == "ClusterCreateTimeout"
        assert outcome.record.error.scope == CLUSTER_ID
    else:
        assert outcome.record == record


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(None, 30), (12, 30), (120, 120), (10_000, 900)]
)
def test_running_create_is_watched_again(retry_after: float | None, delay: int) -> None:
    """A running operation is looked at again after max(watch delay, Retry-After) <= 900 s."""
    record = make_record(phase=Phase.CREATING_CLUSTER, watch_started=T0)
    outcome = after_watch(record, "InProgress", None, retry_after, T0, SETTINGS)
    assert outcome.delay == delay
    assert outcome.record.phase is Phase.CREATING_CLUSTER


# --- cluster_body and tags ------------------------------------------------------------------


def test_cluster_body_is_the_issue_shape() -> None:
    """System identity, one System pool from the request, derived dnsPrefix, CNI Overlay."""
    request = make_request(name="AKS_Team_A", node_count=4, vm_size="Standard_E32-16s_v5")
    body = cluster_body(request)
    assert body["location"] == "westeurope"
    assert body["identity"] == {"type": "SystemAssigned"}
    properties = body["properties"]
    assert properties["dnsPrefix"] == "aks-team-a"
    assert properties["kubernetesVersion"] == "1.31"
    (pool,) = properties["agentPoolProfiles"]
    assert pool["mode"] == "System"
    assert pool["count"] == 4
    assert pool["vmSize"] == "Standard_E32-16s_v5"
    network = properties["networkProfile"]
    assert network["networkPlugin"] == "azure"
    assert network["networkPluginMode"] == "overlay"


def test_cluster_body_omits_version_when_not_requested() -> None:
    """Without kubernetes_version the body leaves the choice to AKS (no key at all)."""
    body = cluster_body(make_request(kubernetes_version=None))
    assert "kubernetesVersion" not in body["properties"]


@pytest.mark.parametrize(("requester", "tag"), [(None, "queue"), (ALICE, ALICE.oid)])
def test_cluster_body_carries_the_app_tags(requester: Requester | None, tag: str) -> None:
    """The cluster is tagged managed-by, request_id and requested-by, plus the user's tags."""
    request = make_request(tags={"team": "a", "cost": "42"})
    body = cluster_body(request) if requester is None else cluster_body(request, requester)
    assert body["tags"] == {
        "team": "a",
        "cost": "42",
        "managed-by": "aks-provisioner",
        "request_id": REQUEST_ID,
        "requested-by": tag,
    }


def test_app_tags_win_over_user_tags() -> None:
    """Even if a user tag slipped through with an app tag's name, the app's value is kept."""
    tags = resource_tags(make_request(tags={"managed-by": "me", "request_id": "x"}))
    assert tags["managed-by"] == "aks-provisioner"
    assert tags["request_id"] == REQUEST_ID
