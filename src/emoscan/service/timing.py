"""`Server-Timing: app;dur=<ms>` on every answer: the milliseconds from the request reaching the
service (after the upload was read and checked) to the first byte of the answer. The web page shows
it; browsers' developer tools chart it."""

from __future__ import annotations

import time


class ServerTimingMiddleware:
    """ASGI middleware adding the Server-Timing header."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message) -> None:
            if message["type"] == "http.response.start":
                millis = (time.perf_counter() - started) * 1000
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"server-timing", f"app;dur={millis:.1f}".encode())]}
            await send(message)

        await self.app(scope, receive, timed_send)
