"""Write the bad- and good-message corpora; re-run with ``python <this file>``.

Deliberately independent of ``provisioning.contract``'s rules: the corpus states the contract
from the outside. Only the documented example request (one fact, kept in the contract) comes
from it. See README.md here for the file format. Deterministic: re-running changes nothing.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # run as a script: the repository root, for tests.*

from provisioning.contract import example_request  # noqa: E402
from tests.documents import DELETE, edited  # noqa: E402

GOOD = HERE.parent / "good_messages"

EXAMPLE: dict[str, Any] = example_request()
RID: str = EXAMPLE["request_id"]
SUB: str = EXAMPLE["subscription_id"]
CYRILLIC_A = "\u0430"  # looks like Latin "a"
CYRILLIC_IE = "\u0435"  # looks like Latin "e"
KELVIN = "\u212a"  # lowercases to Latin "k"
EMOJI = "\U0001f680"  # two UTF-16 code units
KIB = 1024


def doc(**changes: Any) -> dict[str, Any]:
    """The issue's example with changes keyed by path (``cluster__name``); DELETE removes."""
    return edited(EXAMPLE, **changes)


def node_resource_group(resource_group: str, cluster_name: str, location: str) -> str:
    """AKS's default node resource group name (at most 80 characters)."""
    return f"MC_{resource_group}_{cluster_name}_{location}"


def padded(document: dict[str, Any], size: int) -> bytes:
    """Compact JSON of ``document`` padded with spaces after the first brace to ``size`` bytes."""
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(raw) > size:
        raise ValueError(f"document is already {len(raw)} bytes, more than {size}")
    return b"{" + b" " * (size - len(raw)) + raw[1:]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def many_tags(count: int, name_len: int = 8, value_len: int = 8) -> dict[str, str]:
    return {f"t{i:03d}".ljust(name_len, "n"): "v" * value_len for i in range(count)}


def bad(
    slug: str,
    description: str,
    expected: list[str],
    *,
    readable: bool,
    body_json: Any = None,
    body_text: str | None = None,
    body_bytes: bytes | None = None,
    wire_text: str | None = None,
) -> tuple[str, dict[str, Any]]:
    case: dict[str, Any] = {"description": description}
    case.update(_body(body_json, body_text, body_bytes, wire_text))
    case["expected_fields"] = sorted(expected)
    case["request_id_readable"] = readable
    return slug, case


def good(
    slug: str,
    description: str,
    *,
    body_json: Any = None,
    body_bytes: bytes | None = None,
    expected: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    case: dict[str, Any] = {"description": description}
    case.update(_body(body_json, None, body_bytes, None))
    if expected is not None:
        case["expected"] = expected
    return slug, case


def _body(
    body_json: Any, body_text: str | None, body_bytes: bytes | None, wire_text: str | None
) -> dict[str, Any]:
    forms = {
        "body_json": body_json,
        "body_text": body_text,
        "body_base64": None if body_bytes is None else b64(body_bytes),
        "wire_text": wire_text,
    }
    given = {key: value for key, value in forms.items() if value is not None}
    if len(given) != 1:
        raise ValueError(f"exactly one body form, got {sorted(given)}")
    return given


def bad_cases() -> list[tuple[str, dict[str, Any]]]:
    example_text = json.dumps(EXAMPLE)
    node_rg_81 = "r" * (81 - len(node_resource_group("", "aks-elb", "westeurope")))
    return [
        # --- the body as a whole ------------------------------------------------------------
        bad(
            "wire-not-base64",
            "Queue text that is not base64 at all (host-level case; "
            "handed on as is it is not JSON either).",
            ["$"],
            readable=False,
            wire_text="this is not base64! {request}",
        ),
        bad(
            "double-base64",
            "The SPA base64-encoded twice: after the host decodes once the "
            "body is base64 text, not JSON.",
            ["$"],
            readable=False,
            body_text=b64(example_text.encode()),
        ),
        bad("empty-body", "An empty body.", ["$"], readable=False, body_text=""),
        bad(
            "whitespace-body",
            "A body of only whitespace.",
            ["$"],
            readable=False,
            body_text=" \n\t ",
        ),
        bad(
            "plain-text",
            "Plain text, not JSON.",
            ["$"],
            readable=False,
            body_text="please create my cluster",
        ),
        bad(
            "truncated-json",
            "JSON cut off in the middle.",
            ["$"],
            readable=False,
            body_text=example_text[: len(example_text) // 2],
        ),
        bad(
            "single-quoted-json",
            "JavaScript-style single quotes are not JSON.",
            ["$"],
            readable=False,
            body_text=example_text.replace('"', "'"),
        ),
        bad(
            "trailing-comma",
            "A trailing comma is not JSON.",
            ["$"],
            readable=False,
            body_text=example_text[:-1] + ",}",
        ),
        bad(
            "invalid-utf8",
            "Bytes that are not UTF-8 inside a string.",
            ["$"],
            readable=False,
            body_bytes=b'{"request_id": "' + RID.encode() + b'", "location": "\xff\xfe"}',
        ),
        bad(
            "utf16-json",
            "The JSON encoded as UTF-16 instead of UTF-8.",
            ["$"],
            readable=False,
            body_bytes=example_text.encode("utf-16"),
        ),
        bad(
            "utf8-bom",
            "UTF-8 JSON preceded by a byte-order mark.",
            ["$"],
            readable=False,
            body_bytes=b"\xef\xbb\xbf" + example_text.encode(),
        ),
        bad(
            "json-array",
            "A JSON array holding the request.",
            ["$"],
            readable=False,
            body_json=[EXAMPLE],
        ),
        bad(
            "json-string",
            "A JSON string holding the request.",
            ["$"],
            readable=False,
            body_json=example_text,
        ),
        bad("json-null", "JSON null.", ["$"], readable=False, body_text="null"),
        bad("json-number", "A JSON number.", ["$"], readable=False, body_text="42"),
        bad(
            "deeply-nested",
            "Arrays nested 10000 deep (a recursion bomb).",
            ["$"],
            readable=False,
            body_text="[" * 10000 + "]" * 10000,
        ),
        bad(
            "huge-integer",
            "An integer literal of 5000 digits (Python refuses to convert it).",
            ["$"],
            readable=False,
            body_text=example_text.replace('"node_count": 3', '"node_count": ' + "9" * 5000),
        ),
        bad(
            "nan-node-count",
            "NaN is not JSON; as a node count it is not an integer.",
            ["cluster.node_count"],
            readable=True,
            body_text=example_text.replace('"node_count": 3', '"node_count": NaN'),
        ),
        bad(
            "infinity-tag-value",
            "Infinity is not JSON; as a tag value it is not a string.",
            ["tags.team"],
            readable=True,
            body_text=example_text.replace('"team": "elb"', '"team": -Infinity'),
        ),
        bad(
            "duplicate-request-id",
            "request_id given twice: ambiguous, so not readable.",
            ["request_id"],
            readable=False,
            body_text=example_text.replace("{", '{"request_id": "' + SUB + '", ', 1),
        ),
        bad(
            "duplicate-cluster-name",
            "cluster.name given twice.",
            ["cluster.name"],
            readable=True,
            body_text=example_text.replace('"name": "aks-elb"', '"name": "a", "name": "b"'),
        ),
        bad(
            "lone-surrogate-tag-value",
            "A tag value with a lone surrogate escape.",
            ["tags.team"],
            readable=True,
            body_text=example_text.replace('"team": "elb"', '"team": "elb\\ud800"'),
        ),
        # --- request_id -----------------------------------------------------------------------
        bad(
            "missing-request-id",
            "No request_id.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id=DELETE),
        ),
        bad(
            "request-id-braces",
            "request_id in braces.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id="{" + RID + "}"),
        ),
        bad(
            "request-id-no-hyphens",
            "request_id as 32 bare hex digits.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id=RID.replace("-", "")),
        ),
        bad(
            "request-id-urn",
            "request_id as a urn:uuid.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id="urn:uuid:" + RID),
        ),
        bad(
            "request-id-trailing-newline",
            "request_id followed by a newline.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id=RID + "\n"),
        ),
        bad(
            "request-id-too-short",
            "request_id one hex digit short.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id=RID[:-1]),
        ),
        bad(
            "request-id-non-hex",
            "request_id with a non-hex letter.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id="g" + RID[1:]),
        ),
        bad(
            "request-id-fullwidth-digit",
            "request_id with a fullwidth digit (a Unicode digit).",
            ["request_id"],
            readable=False,
            body_json=doc(request_id="\uff13" + RID[1:]),
        ),
        bad(
            "request-id-number",
            "request_id as a number.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id=12345),
        ),
        bad(
            "request-id-null",
            "request_id null.",
            ["request_id"],
            readable=False,
            body_json=doc(request_id=None),
        ),
        # --- subscription_id ------------------------------------------------------------------
        bad(
            "missing-subscription-id",
            "No subscription_id.",
            ["subscription_id"],
            readable=True,
            body_json=doc(subscription_id=DELETE),
        ),
        bad(
            "subscription-id-malformed",
            "subscription_id that is not a GUID.",
            ["subscription_id"],
            readable=True,
            body_json=doc(subscription_id="my-subscription"),
        ),
        bad(
            "subscription-id-object",
            "subscription_id as an object.",
            ["subscription_id"],
            readable=True,
            body_json=doc(subscription_id={"id": SUB}),
        ),
        # --- resource_group -------------------------------------------------------------------
        bad(
            "resource-group-empty",
            "Empty resource group.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group=""),
        ),
        bad(
            "resource-group-91",
            "Resource group of 91 characters (ARM allows 90).",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group="r" * 91),
        ),
        bad(
            "resource-group-90-node-rg",
            "Resource group of 90 characters: ARM accepts it, but "
            "the node resource group MC_<rg>_<cluster>_<location> would exceed 80.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group="r" * 90),
        ),
        bad(
            "node-resource-group-81",
            "Resource group, cluster name and location that make a "
            "node resource group of 81 characters.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group=node_rg_81),
        ),
        bad(
            "resource-group-trailing-period",
            "Resource group ending with a period.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group="rg-elb."),
        ),
        bad(
            "resource-group-hash",
            "Resource group with a #.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group="rg#1"),
        ),
        bad(
            "resource-group-space",
            "Resource group with a space.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group="rg elb"),
        ),
        bad(
            "resource-group-cyrillic",
            "Resource group with a Cyrillic look-alike letter.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group=f"rg-elb-clust{CYRILLIC_IE}r"),
        ),
        bad(
            "resource-group-number",
            "Resource group as a number.",
            ["resource_group"],
            readable=True,
            body_json=doc(resource_group=7),
        ),
        # --- location -------------------------------------------------------------------------
        bad(
            "location-empty",
            "Empty location.",
            ["location"],
            readable=True,
            body_json=doc(location=""),
        ),
        bad(
            "location-only-spaces",
            "Location of only spaces (empty once normalised).",
            ["location"],
            readable=True,
            body_json=doc(location="   "),
        ),
        bad(
            "location-51",
            "Location of 51 letters.",
            ["location"],
            readable=True,
            body_json=doc(location="w" * 51, resource_group="r"),
        ),
        bad(
            "location-hyphen",
            "Location with a hyphen.",
            ["location"],
            readable=True,
            body_json=doc(location="west-europe"),
        ),
        bad(
            "location-kelvin-sign",
            "Location with a Kelvin sign, which lowercases to 'k'.",
            ["location"],
            readable=True,
            body_json=doc(location=f"{KELVIN}oreacentral"),
        ),
        bad(
            "location-tab",
            "Location with a tab (only spaces are removed).",
            ["location"],
            readable=True,
            body_json=doc(location="west\teurope"),
        ),
        bad(
            "location-array",
            "Location as an array.",
            ["location"],
            readable=True,
            body_json=doc(location=["westeurope"]),
        ),
        # --- cluster --------------------------------------------------------------------------
        bad(
            "missing-cluster",
            "No cluster.",
            ["cluster"],
            readable=True,
            body_json=doc(cluster=DELETE),
        ),
        bad(
            "cluster-array",
            "cluster as an array.",
            ["cluster"],
            readable=True,
            body_json=doc(cluster=[EXAMPLE["cluster"]]),
        ),
        bad(
            "cluster-name-missing",
            "cluster without a name.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name=DELETE),
        ),
        bad(
            "cluster-name-empty",
            "Empty cluster name.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name=""),
        ),
        bad(
            "cluster-name-64",
            "Cluster name of 64 characters (AKS allows 63).",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name="a" * 64, resource_group="rg"),
        ),
        bad(
            "cluster-name-55-dns-prefix",
            "Cluster name of 55 characters: a valid AKS name, "
            "but the derived DNS prefix would exceed 54.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name="a" * 55, resource_group="rg"),
        ),
        bad(
            "cluster-name-63-dns-prefix",
            "Cluster name of 63 characters: the DNS prefix would "
            "be 63 (node resource group exactly 80, which fits).",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name="a" * 63, resource_group="rg"),
        ),
        bad(
            "cluster-name-leading-hyphen",
            "Cluster name starting with a hyphen.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name="-aks"),
        ),
        bad(
            "cluster-name-trailing-underscore",
            "Cluster name ending with an underscore.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name="aks_"),
        ),
        bad(
            "cluster-name-period",
            "Cluster name with a period.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name="aks.elb"),
        ),
        bad(
            "cluster-name-cyrillic",
            "Cluster name with a Cyrillic look-alike 'a'.",
            ["cluster.name"],
            readable=True,
            body_json=doc(cluster__name=f"{CYRILLIC_A}ks-elb"),
        ),
        bad(
            "kubernetes-version-major-only",
            "kubernetes_version with the major only.",
            ["cluster.kubernetes_version"],
            readable=True,
            body_json=doc(cluster__kubernetes_version="1"),
        ),
        bad(
            "kubernetes-version-v-prefix",
            "kubernetes_version with a leading v.",
            ["cluster.kubernetes_version"],
            readable=True,
            body_json=doc(cluster__kubernetes_version="v1.31"),
        ),
        bad(
            "kubernetes-version-four-parts",
            "kubernetes_version with four parts.",
            ["cluster.kubernetes_version"],
            readable=True,
            body_json=doc(cluster__kubernetes_version="1.31.2.1"),
        ),
        bad(
            "kubernetes-version-float",
            "kubernetes_version as a JSON number.",
            ["cluster.kubernetes_version"],
            readable=True,
            body_json=doc(cluster__kubernetes_version=1.31),
        ),
        bad(
            "kubernetes-version-null",
            "kubernetes_version null (omit it for the default).",
            ["cluster.kubernetes_version"],
            readable=True,
            body_json=doc(cluster__kubernetes_version=None),
        ),
        bad(
            "node-count-0",
            "node_count 0.",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count=0),
        ),
        bad(
            "node-count-101",
            "node_count 101 (the default maximum is 100).",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count=101),
        ),
        bad(
            "node-count-negative",
            "node_count -1.",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count=-1),
        ),
        bad(
            "node-count-string",
            "node_count as a string.",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count="3"),
        ),
        bad(
            "node-count-float",
            "node_count 3.0.",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count=3.0),
        ),
        bad(
            "node-count-bool",
            "node_count true.",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count=True),
        ),
        bad(
            "node-count-null",
            "node_count null (omit it for the default).",
            ["cluster.node_count"],
            readable=True,
            body_json=doc(cluster__node_count=None),
        ),
        bad(
            "vm-size-65",
            "vm_size of 65 characters.",
            ["cluster.vm_size"],
            readable=True,
            body_json=doc(cluster__vm_size="Standard_" + "D" * 56),
        ),
        bad(
            "vm-size-lowercase-prefix",
            "vm_size with a lowercase standard_ prefix.",
            ["cluster.vm_size"],
            readable=True,
            body_json=doc(cluster__vm_size="standard_d4s_v5"),
        ),
        bad(
            "vm-size-prefix-only",
            "vm_size that is only the prefix.",
            ["cluster.vm_size"],
            readable=True,
            body_json=doc(cluster__vm_size="Standard_"),
        ),
        bad(
            "vm-size-space",
            "vm_size with a space.",
            ["cluster.vm_size"],
            readable=True,
            body_json=doc(cluster__vm_size="Standard_D4s v5"),
        ),
        bad(
            "vm-size-basic",
            "vm_size of the Basic tier.",
            ["cluster.vm_size"],
            readable=True,
            body_json=doc(cluster__vm_size="Basic_A0"),
        ),
        # --- tags -----------------------------------------------------------------------------
        bad(
            "tags-array",
            "tags as an array of pairs.",
            ["tags"],
            readable=True,
            body_json=doc(tags=[["team", "elb"]]),
        ),
        bad(
            "tags-null",
            "tags null (omit it for none).",
            ["tags"],
            readable=True,
            body_json=doc(tags=None),
        ),
        bad(
            "tag-value-number",
            "A tag value that is a number.",
            ["tags.cost-center"],
            readable=True,
            body_json=doc(tags={"team": "elb", "cost-center": 4711}),
        ),
        bad(
            "tag-value-257",
            "A tag value of 257 characters.",
            ["tags.team"],
            readable=True,
            body_json=doc(tags={"team": "v" * 257}),
        ),
        bad(
            "tag-value-129-emoji",
            "A tag value of 129 emoji: 129 characters but 258 UTF-16 code units, over 256.",
            ["tags.team"],
            readable=True,
            body_json=doc(tags={"team": EMOJI * 129}),
        ),
        bad(
            "tag-name-513",
            "A tag name of 513 characters.",
            ["tags." + "n" * 513],
            readable=True,
            body_json=doc(tags={"n" * 513: "x"}),
        ),
        bad(
            "tag-name-empty",
            "An empty tag name.",
            ["tags."],
            readable=True,
            body_json=doc(tags={"": "x"}),
        ),
        *[
            bad(
                f"tag-name-forbidden-{index}",
                f"A tag name containing {char!r}.",
                [f"tags.cost{char}center"],
                readable=True,
                body_json=doc(tags={f"cost{char}center": "x"}),
            )
            for index, char in enumerate("<>%&\\?/")
        ],
        bad(
            "tag-name-app-managed-by",
            "A user tag named like the app's managed-by tag.",
            ["tags.managed-by"],
            readable=True,
            body_json=doc(tags={"managed-by": "me"}),
        ),
        bad(
            "tag-name-app-request-id-upper",
            "A user tag REQUEST_ID: the app's tag name in "
            "another case (ARM tag names are case-insensitive).",
            ["tags.REQUEST_ID"],
            readable=True,
            body_json=doc(tags={"REQUEST_ID": RID}),
        ),
        bad(
            "tag-names-differ-by-case",
            "Two tags whose names differ only by case.",
            ["tags.Team", "tags.team"],
            readable=True,
            body_json=doc(tags={"Team": "a", "team": "b"}),
        ),
        bad(
            "tags-48",
            "48 user tags: with the app's 3 that is 51, over ARM's 50.",
            ["tags"],
            readable=True,
            body_json=doc(tags=many_tags(48)),
        ),
        bad(
            "tags-49",
            "49 user tags: with the app's 3 that is 52, over ARM's 50.",
            ["tags"],
            readable=True,
            body_json=doc(tags=many_tags(49)),
        ),
        bad(
            "tags-50",
            "50 user tags (53 with the app's).",
            ["tags"],
            readable=True,
            body_json=doc(tags=many_tags(50)),
        ),
        # --- unknown and reserved fields ------------------------------------------------------
        *[
            bad(
                f"forged-{name}",
                f"The SPA sent '{name}', which only the function writes on "
                "its own re-enqueued messages.",
                [name],
                readable=True,
                body_json=doc(**{name: 1 if name == "attempt" else "x"}),
            )
            for name in ("attempt", "chain", "step", "run", "kind")
        ],
        bad(
            "unknown-camel-case",
            "requestId next to request_id: an unknown field.",
            ["requestId"],
            readable=True,
            body_json=doc(requestId=RID),
        ),
        bad(
            "unknown-cluster-field",
            "nodeCount (a typo for node_count) inside cluster.",
            ["cluster.nodeCount"],
            readable=True,
            body_json=doc(cluster__node_count=DELETE, cluster__nodeCount=5),
        ),
        bad(
            "unknown-tag-typo",
            "'tag' instead of 'tags'.",
            ["tag"],
            readable=True,
            body_json=doc(tags=DELETE, tag={"team": "elb"}),
        ),
        # --- several at once ------------------------------------------------------------------
        bad(
            "several-problems",
            "Four bad fields and a forged attempt in one message.",
            ["attempt", "cluster.node_count", "location", "resource_group", "tags.managed-by"],
            readable=True,
            body_json=doc(
                attempt=2,
                resource_group="rg.",
                location="west-europe",
                cluster__node_count=0,
                tags={"managed-by": "x"},
            ),
        ),
        bad(
            "everything-wrong",
            "Every field wrong, request_id unreadable.",
            [
                "request_id",
                "subscription_id",
                "resource_group",
                "location",
                "cluster.name",
                "cluster.kubernetes_version",
                "cluster.node_count",
                "cluster.vm_size",
                "tags",
            ],
            readable=False,
            body_json={
                "request_id": "x",
                "subscription_id": 0,
                "resource_group": "",
                "location": "",
                "cluster": {"name": "-", "kubernetes_version": "", "node_count": 0, "vm_size": ""},
                "tags": [],
            },
        ),
        # --- sizes ----------------------------------------------------------------------------
        bad(
            "size-16384-unknown-field",
            "Exactly 16384 bytes (the limit, accepted as a size) but with an unknown field.",
            ["colour"],
            readable=True,
            body_bytes=padded(doc(colour="blue"), 16 * KIB),
        ),
        bad(
            "size-16385",
            "16385 bytes of otherwise valid JSON: one byte over 16 KiB.",
            ["$"],
            readable=True,
            body_bytes=padded(EXAMPLE, 16 * KIB + 1),
        ),
        bad(
            "size-realistic-tags",
            "47 tags of 200-character names and 256-character values: "
            "within ARM's limits but about 22 KiB of JSON.",
            ["$"],
            readable=True,
            body_bytes=json.dumps(doc(tags=many_tags(47, 200, 256))).encode(),
        ),
        bad(
            "size-48k-wire-64k",
            "49152 bytes of JSON: base64 makes exactly 65536 characters, "
            "the queue's 64 KiB message limit.",
            ["$"],
            readable=True,
            body_bytes=padded(EXAMPLE, 48 * KIB),
        ),
        bad(
            "size-48k-plus-1",
            "49153 bytes of JSON: base64 exceeds the queue's 64 KiB.",
            ["$"],
            readable=True,
            body_bytes=padded(EXAMPLE, 48 * KIB + 1),
        ),
        bad(
            "size-over-64k",
            "65537 bytes: beyond anything the queue delivers, so the body is "
            "not even scanned for its request_id.",
            ["$"],
            readable=False,
            body_bytes=padded(EXAMPLE, 64 * KIB + 1),
        ),
    ]


def good_cases() -> list[tuple[str, dict[str, Any]]]:
    node_rg_80 = "r" * (80 - len(node_resource_group("", "aks-elb", "westeurope")))
    user_tags = many_tags(42)
    user_tags.update(
        {
            "n" * 512: "longest name",
            "longest-value": "v" * 256,
            "emoji": EMOJI * 128,
            "empty": "",
            "odd-value": "<>%&\\?/",
        }
    )
    return [
        good("issue-example", "The example from the issue.", body_json=EXAMPLE, expected=EXAMPLE),
        good(
            "minimal-defaults",
            "Only the required fields: defaults apply, version omitted.",
            body_json=doc(cluster={"name": "aks-elb"}, tags=DELETE),
            expected={
                "cluster": {"name": "aks-elb", "node_count": 3, "vm_size": "Standard_D4s_v5"},
                "tags": {},
            },
        ),
        good(
            "normalisation",
            "Uppercase UUIDs, a display-name location and a cluster name with _ and capitals.",
            body_json=doc(
                request_id=RID.upper(),
                subscription_id="ABCDEF01-2345-6789-ABCD-EF0123456789",
                location="West Europe",
                resource_group="RG_(elb).v2",
                cluster__name="AKS_Elb",
            ),
            expected={
                "request_id": RID,
                "subscription_id": "abcdef01-2345-6789-abcd-ef0123456789",
                "location": "westeurope",
                "resource_group": "RG_(elb).v2",
            },
        ),
        good(
            "upper-bounds",
            "Node resource group exactly 80, cluster name 54 (DNS prefix 54), "
            "node_count 100, vm_size 64 characters, version MAJOR.MINOR.PATCH.",
            body_json=doc(
                resource_group="r" * (80 - len(node_resource_group("", "", "westeurope")) - 54),
                cluster={
                    "name": "a" * 54,
                    "kubernetes_version": "1.31.2",
                    "node_count": 100,
                    "vm_size": "Standard_" + "D" * 55,
                },
            ),
        ),
        good(
            "node-resource-group-80",
            "Resource group, cluster and location giving a node "
            "resource group of exactly 80 characters.",
            body_json=doc(resource_group=node_rg_80),
        ),
        good(
            "lower-bounds",
            "One-character resource group, location and cluster name; one node; no tags.",
            body_json=doc(
                resource_group="r", location="a", cluster={"name": "a", "node_count": 1}, tags={}
            ),
        ),
        good(
            "location-50-with-spaces",
            "A 50-letter location written with spaces and capitals.",
            body_json=doc(
                location="W" * 25 + "   " + "e" * 25, resource_group="r", cluster__name="a"
            ),
            expected={"location": "w" * 25 + "e" * 25},
        ),
        good(
            "tags-at-limits",
            "47 user tags (50 with the app's 3), a 512-character name, a "
            "256-character value, 128 emoji (256 UTF-16 units), an empty value and characters "
            "forbidden in names used in a value.",
            body_json=doc(tags=user_tags),
        ),
        good("size-16384", "Exactly 16384 bytes of JSON.", body_bytes=padded(EXAMPLE, 16 * KIB)),
        good(
            "constrained-vcpu-size",
            "A constrained-vCPU VM size with a hyphen.",
            body_json=doc(cluster__vm_size="Standard_E32-16s_v5"),
        ),
    ]


def write(directory: Path, cases: list[tuple[str, dict[str, Any]]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    slugs = [slug for slug, _ in cases]
    if len(set(slugs)) != len(slugs):
        raise ValueError("duplicate case names")
    for stale in directory.glob("*.json"):
        stale.unlink()
    for slug, case in cases:
        text = json.dumps(case, indent=2, ensure_ascii=False) + "\n"
        (directory / f"{slug}.json").write_text(text, encoding="utf-8")


def main(bad_dir: Path = HERE, good_dir: Path = GOOD) -> None:
    write(bad_dir, bad_cases())
    write(good_dir, good_cases())


if __name__ == "__main__":
    main()
    sys.stdout.write(f"wrote {len(bad_cases())} bad and {len(good_cases())} good messages\n")
