"""Answers sent straight from ASGI middleware, before the request reaches the service."""

from __future__ import annotations

import json


async def send_json(send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    """Send a complete JSON response on a raw ASGI channel."""
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
