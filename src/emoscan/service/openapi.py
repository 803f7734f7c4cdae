"""The error answers in the service's OpenAPI schema: BentoML documents 200, 400, 404 and 500 for
every endpoint; emoscan answers 400, 401 (with API keys), 413, 415 and 429 (with `Retry-After`),
each with the JSON body `{"error": "..."}`. This middleware adds them to `/docs.json`, so that
Swagger UI and generated clients know them and Schemathesis can check the answers against them."""

from __future__ import annotations

import json

from emoscan.service.schemas import ErrorResponse

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def error_answers(kind: str, with_keys: bool) -> dict[str, dict]:
    """The documented error answers of an upload endpoint for `kind` ("image" or "video")."""
    answers = {
        "400": "a missing, misnamed or repeated field, an empty or truncated file, a bad frame_rate",
        "408": "the upload stalled: no data for service.upload_idle_seconds",
        "413": f"the {kind} is over the size limit, or the image over the pixel limit",
        "415": f"not an {kind} emoscan can read" if kind == "image" else
               "not a video emoscan can read, or a still image",
        "429": "over the rate limit of this client or key; Retry-After says when to try again",
    }
    if with_keys:
        answers["401"] = "no API key, or a key that is not valid"
    documented = {code: {"description": text, "content": {"application/json": {"schema": ERROR_REF}}}
                  for code, text in answers.items()}
    documented["429"]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return documented


def document_errors(spec: dict, with_keys: bool) -> dict:
    """`spec` (BentoML's OpenAPI document) with emoscan's error answers."""
    spec.setdefault("components", {}).setdefault("schemas", {})["ErrorResponse"] = ErrorResponse.model_json_schema()
    for route, kind in (("/detect", "image"), ("/detect-video", "video")):
        operation = spec.get("paths", {}).get(route, {}).get("post")
        if operation is not None:
            operation["responses"].update(error_answers(kind, with_keys))
    if with_keys:
        spec["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
        for route in ("/detect", "/detect-video", "/metadata"):
            for operation in spec.get("paths", {}).get(route, {}).values():
                operation["security"] = [{"bearer": []}]
    return spec


class OpenApiErrorsMiddleware:
    """Rewrites the answer to GET /docs.json with `document_errors`."""

    def __init__(self, app, with_keys: bool = False) -> None:
        self.app, self.with_keys = app, with_keys

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/docs.json":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        body = bytearray()

        async def collect(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    await self._send(send, start, bytes(body))

        await self.app(scope, receive, collect)

    async def _send(self, send, start: dict, body: bytes) -> None:
        if start.get("status") == 200:
            body = json.dumps(document_errors(json.loads(body), self.with_keys)).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
