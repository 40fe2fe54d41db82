"""Automatic persisted queries (Apollo's APQ protocol): a client sends a query's SHA-256 instead of its text."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import replace

from strawberry.http import GraphQLRequestData

from gateway.metrics import record_persisted_query

# What the kept queries may hold in all (characters); the least recently used go first. A longer query than
# MAX_QUERY_CHARS runs but is not kept (its client keeps sending it whole).
MAX_CHARS = 5_000_000
MAX_QUERY_CHARS = 100_000
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryRefused(Exception):
    """A persisted-query request that cannot run: `message` and `code` as Apollo's clients expect them; `status`
    under application/json, `strict_status` under the GraphQL-over-HTTP media type (an answer without `data` must
    be a 4xx there)."""

    def __init__(self, message: str, code: str, status: int = 400, strict_status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.strict_status = message, code, status, strict_status


NOT_FOUND = ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200, 404)
NOT_SUPPORTED = ("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED", 200, 400)


class PersistedQueries:
    """The queries this process was sent with their hash, by hash; `enabled=False` refuses the extension."""

    def __init__(self, enabled: bool = True, max_chars: int = MAX_CHARS, max_query_chars: int = MAX_QUERY_CHARS
                 ) -> None:
        self.enabled = enabled
        self.max_chars = max_chars
        self.max_query_chars = max_query_chars
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    def resolve(self, data: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its query: a known hash's, or its own once its hash is checked (and kept)."""
        asked = (data.extensions or {}).get("persistedQuery")
        if asked is None:
            return data
        try:
            resolved, result = self._resolved(data, asked)
        except PersistedQueryRefused as exc:
            record_persisted_query("miss" if exc.code == NOT_FOUND[1] else "refused")
            raise
        record_persisted_query(result)
        return resolved

    def _resolved(self, data: GraphQLRequestData, asked: object) -> tuple[GraphQLRequestData, str]:
        if not self.enabled:
            raise PersistedQueryRefused(*NOT_SUPPORTED)
        digest = _checked(asked)
        if data.query is None:
            query = self._queries.get(digest)
            if query is None:
                raise PersistedQueryRefused(*NOT_FOUND)
            self._queries.move_to_end(digest)
            return replace(data, query=query), "hit"
        if hashlib.sha256(data.query.encode()).hexdigest() != digest:
            raise PersistedQueryRefused("provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH")
        self._keep(digest, data.query)
        return data, "registered"

    def _keep(self, digest: str, query: str) -> None:
        if digest in self._queries or len(query) > self.max_query_chars:
            return
        self._queries[digest] = query
        self._chars += len(query)
        while self._chars > self.max_chars:
            _, dropped = self._queries.popitem(last=False)
            self._chars -= len(dropped)

    def __len__(self) -> int:
        return len(self._queries)


def _checked(asked: object) -> str:
    """The hash of a `persistedQuery` extension: version 1 and a lowercase hex SHA-256."""
    if not isinstance(asked, dict) or asked.get("version") != 1:
        raise PersistedQueryRefused("Unsupported persisted query version", "BAD_REQUEST")
    digest = asked.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise PersistedQueryRefused("persistedQuery.sha256Hash must be a SHA-256 in lowercase hex", "BAD_REQUEST")
    return digest
