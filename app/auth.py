"""API keys: random secrets, stored as sha256, compared in constant time, checked by scope.

A key reads `tf_<prefix>_<secret>`. The prefix finds the row; the secret's hash is compared with
`hmac.compare_digest`. Keys are high-entropy (256 bits), so a plain sha256 is the right hash (a slow
password hash would only slow every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db import SessionDep
from app.errors import Forbidden, Unauthorized
from app.models import ApiKey, new_id

SCOPES = ("read", "write", "worker", "admin")

# The scope lattice: what each scope grants. admin ⊇ write ⊇ read, admin ⊇ worker ⊇ read. Every read
# route needs only `read` (a worker reads datasets, files, jobs, events and models; a writer follows its
# own jobs), so both write and worker keys can read on a closed deployment (TOOLFORGE_OPEN_READS=false).
GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"write", "read"}),
    "worker": frozenset({"worker", "read"}),
    "admin": frozenset(SCOPES),
}


def granted(scopes: frozenset[str] | set[str]) -> frozenset[str]:
    """Every scope a key holding `scopes` may use.

    >>> sorted(granted({"worker"}))
    ['read', 'worker']
    >>> sorted(granted({"write", "worker"}))
    ['read', 'worker', 'write']
    """
    return frozenset().union(*(GRANTS.get(scope, frozenset()) for scope in scopes))


@dataclass(frozen=True)
class Principal:
    key_id: str | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in granted(self.scopes)


ANONYMOUS = Principal(None, frozenset())


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: list[str], secret: str | None = None) -> str:
    """Create a key and return it in clear (the only time it is seen).

    Args:
        session: an open session (committed here).
        name: a label for people.
        scopes: any of read, write, worker, admin.
        secret: a fixed key (the bootstrap admin key); random when None.

    Returns:
        The key, `tf_<prefix>_<secret>`.
    """
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise ValueError(f"unknown scope(s) {bad}; choose from {', '.join(SCOPES)}")
    if secret is None:
        prefix, body = secrets.token_hex(6), secrets.token_urlsafe(32)
        key = f"tf_{prefix}_{body}"
    else:
        key = secret
        prefix = _sha(secret)[:12]
    existing = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if existing is None:
        session.add(ApiKey(id=new_id("key"), name=name, prefix=prefix, secret_sha256=_sha(key),
                           scopes=",".join(sorted(set(scopes)))))
        session.commit()
    return key


def find_key(session: Session, ident: str) -> ApiKey | None:
    """The key row named by its id (`key_...`), its prefix, or the whole key (`tf_<prefix>_<secret>`)."""
    ident = ident.strip()
    return (session.get(ApiKey, ident)
            or session.scalar(select(ApiKey).where(ApiKey.prefix == ident))
            or session.scalar(select(ApiKey).where(ApiKey.prefix == _prefix_of(ident))))


def revoke_key(session: Session, ident: str) -> ApiKey | None:
    """Revoke a key (it stops working at the next request: every request looks its row up); None if unknown.

    Revoking an already revoked key keeps its first revocation time.
    """
    row = find_key(session, ident)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.commit()
    return row


def _prefix_of(key: str) -> str:
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == "tf" and len(parts[1]) == 12:
        return parts[1]
    return _sha(key)[:12]


def authenticate(session: Session, key: str) -> Principal | None:
    """Return the principal for `key`, or None when it is unknown or revoked."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == _prefix_of(key)))
    # Compare even when no row exists, so timing does not reveal which prefixes exist.
    expected = row.secret_sha256 if row is not None else "0" * 64
    if not hmac.compare_digest(expected, _sha(key)) or row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, frozenset(row.scopes.split(",")))


# Declared through FastAPI's security classes so the OpenAPI document lists both ways of sending a key and
# Swagger UI shows its Authorize button; auto_error=False leaves a missing key to `require`.
_bearer = HTTPBearer(auto_error=False, description="An API key, `tf_...` (`toolforge keys create`).")
_api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False, scheme_name="ApiKeyHeader",
                               description="The same API key in an `X-Api-Key` header (when both are sent, "
                                           "`Authorization` wins).")


def _key_from(credentials: HTTPAuthorizationCredentials | None, header: str | None) -> str | None:
    if credentials is not None:
        return credentials.credentials.strip() or None
    return header or None


async def current_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    header_key: Annotated[str | None, Depends(_api_key_header)] = None,
) -> Principal:
    # Async, so an anonymous read costs no worker-thread hop; only the key lookup (I/O) takes one.
    key = _key_from(credentials, header_key)
    if key is None:
        return ANONYMOUS
    principal = await run_in_threadpool(authenticate, session, key)
    if principal is None:
        raise Unauthorized("the API key is unknown or revoked; create one with `toolforge keys create`")
    return principal


def require(scope: str, *, any_method: bool = False):  # type: ignore[no-untyped-def]
    """A dependency that admits principals granted `scope` (see `GRANTS`).

    With open reads (`TOOLFORGE_OPEN_READS`, the default) a `read` route admits anyone for GET and HEAD,
    and for every method when `any_method` (a POST that only computes, such as reward scoring).
    """

    async def check(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if (scope == "read" and request.app.state.settings.open_reads
                and (any_method or request.method in ("GET", "HEAD"))):
            return principal
        if principal.key_id is None:
            raise Unauthorized(f"this request needs an API key with the {scope!r} scope "
                               "(header `Authorization: Bearer tf_...`)")
        if not principal.allows(scope):
            holders = ", ".join(s for s in SCOPES if scope in GRANTS[s])
            raise Forbidden(f"the API key ({', '.join(sorted(principal.scopes))}) lacks the {scope!r} scope, which "
                            f"{holders} keys have; create one with `toolforge keys create --scope {scope}`")
        return principal

    # Read by the route-enumerating auth test and by app.openapi (which routes show no lock with open reads).
    check.required_scope = scope  # type: ignore[attr-defined]
    check.any_method = any_method  # type: ignore[attr-defined]
    return check


ReadDep = Annotated[Principal, Depends(require("read"))]
WriteDep = Annotated[Principal, Depends(require("write"))]
WorkerDep = Annotated[Principal, Depends(require("worker"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]
# A read that is a POST (it only computes): open like GETs when reads are open.
ComputeDep = Annotated[Principal, Depends(require("read", any_method=True))]
