"""ASGI middleware for upload size limits (413), per-client or per-key rate limits (429 +
Retry-After, counted by the `limits` library in memory or a shared Redis) and
multipart field names (400).

It runs before BentoML reads the request body, so an oversized upload is refused from its
Content-Length (or, for chunked uploads, as soon as the streamed body passes the limit), and a
form with a field the endpoint does not take is refused before BentoML tries to decode it (it
JSON-decodes unknown fields, so a file under another name would otherwise be a 500)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import tempfile
import time

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from emoscan.service.auth import presented_key
from emoscan.service.responses import send_json
from emoscan.settings import ServiceSettings, load_settings


class RateLimiter:
    """At most `limit` requests per minute per key, in a moving window, counted by the `limits`
    library in `storage` (a `limits` storage URI): "memory://" counts in this process (each worker
    on its own); "redis://host:6379" counts in one Redis that every worker and machine shares."""

    def __init__(self, limit: int, storage: str = "memory://", namespace: str = "emoscan") -> None:
        self.limit, self.namespace = limit, namespace
        self.item = RateLimitItemPerMinute(limit)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage))

    def check(self, key: str) -> float:
        """Record a request; return 0 if allowed, else the seconds until one is allowed."""
        if self.limiter.hit(self.item, self.namespace, key):
            return 0.0
        reset = self.limiter.get_window_stats(self.item, self.namespace, key).reset_time
        return max(1.0, reset - time.time())


SPOOL_BYTES = 2 * 1024 * 1024
REPLAY_CHUNK = 1024 * 1024


class BadForm(Exception):
    """A multipart body names a field the endpoint does not take."""


class FormFieldCheck:
    """Streams a multipart/form-data body through python-multipart's parser, noting each part's
    field name and whether it is a file. `check()` raises BadForm for a malformed body, a field the
    endpoint does not take, or a file field sent as a plain value (BentoML would fetch such a value
    as a URL). Bodies that are not multipart pass unchecked (BentoML refuses them)."""

    def __init__(self, content_type: bytes | None, fields: dict[str, str], what: str) -> None:
        self.fields, self.what = fields, what
        self.parts: list[tuple[str, bool]] = []  # (field name, has a file name)
        self._header, self._value, self.error = b"", b"", ""
        kind, options = parse_options_header(content_type or b"")
        self.parser = None
        if kind == b"application/x-www-form-urlencoded":  # no file can travel so; BentoML would fetch values as URLs
            file_field = next(iter(fields))
            self.error = (f"No {what.lower()} uploaded: send it as multipart/form-data, e.g. curl -F "
                          f"{file_field}=@FILE (a url-encoded form cannot carry a file)")
        if kind == b"multipart/form-data":
            if not options.get(b"boundary"):
                self.error = "Malformed multipart/form-data request: no boundary in its Content-Type"
                return
            self.parser = MultipartParser(options[b"boundary"], {
                "on_header_field": self._on_field, "on_header_value": self._on_value,
                "on_header_end": self._on_header_end})

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            _, options = parse_options_header(self._value)
            self.parts.append((options.get(b"name", b"").decode("utf-8", "replace"), b"filename" in options))
        self._header, self._value = b"", b""

    def feed(self, chunk: bytes) -> None:
        """Parse the next piece of the body."""
        if self.parser is not None and chunk:
            try:
                self.parser.write(chunk)
            except MultipartParseError as exc:
                self.parser, self.error = None, f"Malformed multipart/form-data body: {exc}"

    def check(self) -> None:
        if self.error:
            raise BadForm(self.error)
        expected = " and ".join(f"'{f}'" for f in self.fields)
        for name, is_file in self.parts:
            if name not in self.fields:
                raise BadForm(f"No {self.what.lower()} uploaded: unknown form field '{name}' "
                              f"(this endpoint takes {expected})")
            if self.fields[name] == "file" and not is_file:
                raise BadForm(f"'{name}' must be an uploaded file (a multipart part with a filename), "
                              "not a plain form value")


def client_id(scope, headers: dict[bytes, bytes]) -> str:
    """Who a rate limit counts: the API key's digest when the request carries one (so one key's
    limit holds from any address), else the client address."""
    key = presented_key(headers)
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "ip:" + (scope.get("client") or ("unknown", 0))[0]


class LimitsMiddleware:
    """Per-route limits. `routes` maps a path to (max_bytes, requests_per_minute, what, form fields:
    name -> "file" | "value"). An upload that sends nothing for `idle_seconds` is answered 408 and
    dropped: a client that stalls, or vanishes unnoticed, holds no request open for longer."""

    def __init__(self, app, routes: dict[str, tuple[int, int, str, dict[str, str]]],
                 storage: str = "memory://", idle_seconds: float = 30.0) -> None:
        self.app = app
        self.routes = routes
        self.idle_seconds = idle_seconds
        self.limiters = {path: RateLimiter(rpm, storage, namespace=f"emoscan{path}")
                         for path, (_, rpm, _, _) in routes.items() if rpm > 0}

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "").rstrip("/")
        if scope["type"] != "http" or path not in self.routes:
            await self.app(scope, receive, send)
            return
        max_bytes, _, what, fields = self.routes[path]
        headers = dict(scope.get("headers") or [])
        client = client_id(scope, headers)
        limiter = self.limiters.get(path)
        if limiter is not None and (wait := limiter.check(client)) > 0:
            await send_json(send, 429, {"error": f"Rate limit exceeded: {limiter.limit} requests per minute "
                                                 f"on {path}; retry in {math.ceil(wait)} s"},
                            {"Retry-After": str(math.ceil(wait))})
            return
        length = headers.get(b"content-length")
        too_large = {"error": f"{what} too large: the limit is {max_bytes / 1e6:g} MB"}
        if length is not None and length.isdigit() and int(length) > max_bytes:
            await send_json(send, 413, too_large)
            return

        form = FormFieldCheck(headers.get(b"content-type"), fields, what)
        # The body is read here in full, into a spooled file (memory up to SPOOL_BYTES, then disk),
        # checked as it streams, and replayed to BentoML only when it passed: an error raised while
        # BentoML reads would reach the client as its generic 500.
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
            received = 0
            while True:
                try:
                    message = await asyncio.wait_for(receive(), self.idle_seconds)
                except asyncio.TimeoutError:  # a client that stopped sending (or went away unnoticed)
                    await send_json(send, 408, {"error": f"The upload stalled: no data for {self.idle_seconds:g} s"})
                    return
                if message["type"] == "http.disconnect":  # the client went away mid-upload
                    # answered all the same: the server drops it, and the request ends as a 400
                    # instead of staying "in progress" in the layers around this one
                    await send_json(send, 400, {"error": "The upload was cut off before its end"})
                    return
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > max_bytes:
                    await send_json(send, 413, too_large)
                    return
                form.feed(chunk)
                body.write(chunk)
                if not message.get("more_body", False):
                    break
            try:
                form.check()
            except BadForm as exc:
                await send_json(send, 400, {"error": str(exc)})
                return
            body.seek(0)
            replayed = False

            async def replay():
                nonlocal replayed
                if replayed:
                    return await receive()  # after the body: wait for the client to disconnect
                chunk = body.read(REPLAY_CHUNK)
                replayed = body.tell() >= received
                return {"type": "http.request", "body": chunk, "more_body": not replayed}

            await self.app(scope, replay, send)


MB = 1_000_000


def service_routes(limits: ServiceSettings) -> dict[str, tuple[int, int, str, dict[str, str]]]:
    """LimitsMiddleware's routes for the service's two upload endpoints, from the `service` settings."""
    return {
        "/detect": (int(limits.max_image_mb * MB), limits.rate_limit_detect_per_min, "Image", {"image": "file"}),
        "/detect-video": (int(limits.max_video_mb * MB), limits.rate_limit_video_per_min, "Video",
                          {"video": "file", "frame_rate": "value"}),
    }


class ServiceLimitsMiddleware(LimitsMiddleware):
    """LimitsMiddleware for /detect and /detect-video with the `service` section of params.yaml,
    read when the server builds its app (in each worker), not when the module is imported."""

    def __init__(self, app) -> None:
        limits = load_settings().service
        super().__init__(app, service_routes(limits), storage=limits.rate_limit_storage,
                         idle_seconds=limits.upload_idle_seconds)
