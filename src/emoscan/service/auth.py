"""Optional API keys: with keys configured, every request but health, readiness, metrics and the API
docs and the web page needs `Authorization: Bearer <key>` (or `X-API-Key: <key>`), else a 401 JSON error. Keys are
compared in constant time and never logged. Without keys the service is open, as before.

Keys come from `EMOSCAN_API_KEYS` (comma-separated) and/or the file named by `EMOSCAN_API_KEY_FILE`
(one key per line, `#` comments)."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from emoscan.service.responses import send_json

#: paths open without a key: probes, Prometheus, the OpenAPI page that documents the keys, and the
#: web page, which asks for a key when the API answers 401
OPEN_PATHS = ("/healthz", "/livez", "/readyz", "/metrics", "/docs.json", "/", "/ui")
#: folders of static files open without a key: Swagger UI's and the web page's
OPEN_PREFIXES = ("/static_content/", "/ui/")
_OPEN = {path.rstrip("/") for path in OPEN_PATHS}  # compared with the request path, trailing "/" stripped


def is_open(path: str) -> bool:
    """Whether `path` is answered without a key."""
    return path.rstrip("/") in _OPEN or path.startswith(OPEN_PREFIXES)


def configured_keys(environ: dict | None = None) -> list[str]:
    """The API keys from the environment (empty: no access control)."""
    environ = os.environ if environ is None else environ
    keys = [k.strip() for k in environ.get("EMOSCAN_API_KEYS", "").split(",") if k.strip()]
    key_file = environ.get("EMOSCAN_API_KEY_FILE")
    if key_file:
        path = Path(key_file)
        if not path.is_file():
            raise FileNotFoundError(f"EMOSCAN_API_KEY_FILE={key_file} does not exist")
        keys += [line.strip() for line in path.read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
    return keys


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key a request carries: `Authorization: Bearer KEY`, else `X-API-Key: KEY`."""
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    key = headers.get(b"x-api-key")
    return key.decode("latin-1").strip() if key else None


class ApiKeyMiddleware:
    """401 for requests without a valid key, when keys are configured."""

    def __init__(self, app, keys: list[str]) -> None:
        self.app = app
        # digests of equal length, compared with hmac.compare_digest: no early exit on a prefix
        self.digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.digests or scope.get("method") == "OPTIONS" \
                or is_open(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        key = presented_key(dict(scope.get("headers") or []))
        if key is None:
            await send_json(send, 401, {"error": "API key required: send it as 'Authorization: Bearer <key>'"},
                            {"WWW-Authenticate": "Bearer"})
            return
        digest = hashlib.sha256(key.encode()).digest()
        if not any([hmac.compare_digest(digest, d) for d in self.digests]):  # every key compared
            await send_json(send, 401, {"error": "Invalid API key"}, {"WWW-Authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)
