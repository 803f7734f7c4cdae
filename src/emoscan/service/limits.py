"""ASGI middleware for upload size limits (413) and per-client rate limits (429 + Retry-After).

It runs before BentoML reads the request body, so an oversized upload is refused from its
Content-Length (or, for chunked uploads, as soon as the streamed body passes the limit)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    """Sliding-window limiter: at most `limit` requests per `window` seconds per key."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> float:
        """Record a request; return 0 if allowed, else the seconds until one is allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[key]
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return self.window - (now - hits[0])
            hits.append(now)
            return 0.0


async def send_json(send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    """Send a complete JSON response on a raw ASGI channel."""
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class BodyTooLarge(Exception):
    """Raised inside `receive` when a streamed body passes its limit."""


class LimitsMiddleware:
    """Per-route limits. `routes` maps a path to (max_bytes, requests_per_minute, what)."""

    def __init__(self, app, routes: dict[str, tuple[int, int, str]]) -> None:
        self.app = app
        self.routes = routes
        self.limiters = {path: RateLimiter(rpm) for path, (_, rpm, _) in routes.items() if rpm > 0}

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "").rstrip("/")
        if scope["type"] != "http" or path not in self.routes:
            await self.app(scope, receive, send)
            return
        max_bytes, _, what = self.routes[path]
        client = (scope.get("client") or ("unknown", 0))[0]
        limiter = self.limiters.get(path)
        if limiter is not None and (wait := limiter.check(client)) > 0:
            await send_json(send, 429, {"error": f"Rate limit exceeded: {limiter.limit} requests per minute "
                                                 f"on {path}; retry in {math.ceil(wait)} s"},
                            {"Retry-After": str(math.ceil(wait))})
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_large = {"error": f"{what} too large: the limit is {max_bytes / 1e6:g} MB"}
        if length is not None and length.isdigit() and int(length) > max_bytes:
            await send_json(send, 413, too_large)
            return

        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_json(send, 413, too_large)
