"""Who asked: the verified requester of a request, and the caller of an HTTP route.

A requester is a signed-in user, an app using client credentials, or ``queue`` for a message
dropped directly on the provisioning queue (which carries no verified identity). The status
record, the ``requested-by`` tag and every log line name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ROLE_REQUEST = "Provisioning.Request"
ROLE_READ_ALL = "Provisioning.ReadAll"
QUEUE_KEY = "queue"


@dataclass(frozen=True, slots=True)
class Requester:
    kind: Literal["user", "app", "queue"]
    oid: str = ""
    tid: str = ""
    name: str = ""

    @property
    def key(self) -> str:
        """What the ``requested-by`` tag, the logs and the per-requester index carry."""
        return self.oid if self.kind != "queue" else QUEUE_KEY

    def to_dict(self) -> dict[str, str]:
        if self.kind == "queue":
            return {"kind": "queue"}
        return {"kind": self.kind, "oid": self.oid, "tid": self.tid, "name": self.name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requester:
        kind = data.get("kind")
        if kind not in ("user", "app"):
            return QUEUE
        return cls(
            kind=kind,
            oid=str(data.get("oid", "")),
            tid=str(data.get("tid", "")),
            name=str(data.get("name", "")),
        )


QUEUE = Requester(kind="queue")


class Unauthorized(Exception):
    """The token is missing, malformed, forged, expired or not for this API (answer 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The tenant's keys could not be fetched (answer 503: the caller may retry)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified bearer of a token: who they are and the app roles they hold."""

    requester: Requester
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def may_submit(self) -> bool:
        return ROLE_REQUEST in self.roles

    @property
    def reads_all(self) -> bool:
        return ROLE_READ_ALL in self.roles

    def may_read(self, owner: Requester) -> bool:
        """Own requests with ``Provisioning.Request``; every request with ``ReadAll``."""
        if self.reads_all:
            return True
        return self.may_submit and owner.kind != "queue" and owner.key == self.requester.key


def requester_from_claims(claims: Mapping[str, Any]) -> Requester:
    """The requester a validated v2 access token names.

    An app-only token (client credentials) has no ``scp``; Entra's optional ``idtyp`` claim says
    ``app`` when configured. A user's name is ``preferred_username``, else ``name``; an app's is
    its client id (``azp``, or ``appid`` in v1-shaped claims).
    """
    oid, tid = str(claims.get("oid", "")), str(claims.get("tid", ""))
    if claims.get("idtyp") == "app" or "scp" not in claims:
        return Requester("app", oid, tid, str(claims.get("azp") or claims.get("appid") or ""))
    name = claims.get("preferred_username") or claims.get("name") or ""
    return Requester("user", oid, tid, str(name))
