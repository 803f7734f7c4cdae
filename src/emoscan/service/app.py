"""The emoscan BentoML service.

    bentoml serve            # from the repository root (bentofile.yaml names this service)
    emoscan serve            # from an installed package: pip install 'emoscan[serve]'

Endpoints: POST /detect (multipart field `image`), POST /detect-video (field `video`, optional
`frame_rate`), GET /metadata, the web page at /ui, and BentoML's Swagger UI at /, /healthz, /livez,
/readyz and /metrics.
Environment: MODEL_PATH (fer2013 by default; ferplus, fer2013-fast, a model bundle or .onnx, or
champion:NAME for a model `emoscan import-champion` put into the BentoML store), PORT (default 3000), MAX_WORKERS
(default 1), DEBUG (1 = debug logging and error details), EMOSCAN_PARAMS (params.yaml with the limits),
EMOSCAN_API_KEYS / EMOSCAN_API_KEY_FILE (optional API keys), EMOSCAN_CORS_ORIGINS (comma-separated).
"""


import logging
import os
from pathlib import Path
from typing import Any, List, Optional

import bentoml
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from pydantic import Field

from emoscan import __version__
from emoscan.api import EmotionRecognizer
from emoscan.inference.analyzer import VideoDecodeError
from emoscan.inference.decode import ImageDecodeError, decode_upload, is_still_image
from emoscan.service.auth import ApiKeyMiddleware, configured_keys
from emoscan.service.limits import ServiceLimitsMiddleware
from emoscan.service.openapi import OpenApiErrorsMiddleware
from emoscan.service.schemas import DetectResponse, ErrorResponse, VideoResponse
from emoscan.service.timing import ServerTimingMiddleware
from emoscan.settings import load_settings

DEBUG = os.environ.get("DEBUG", "0").lower() in ("1", "true", "yes")
CORS_ORIGINS = [o.strip() for o in os.environ.get("EMOSCAN_CORS_ORIGINS", "").split(",") if o.strip()]
log = logging.getLogger("emoscan.service")
log.setLevel(logging.DEBUG if DEBUG else logging.INFO)

info_app = FastAPI(title="emoscan metadata")
WEB_PAGE = Path(__file__).resolve().parent / "web"  # the web page: plain HTML, CSS and JavaScript


@info_app.get("/ui", response_class=RedirectResponse, status_code=307, summary="The web page")
def web_page() -> RedirectResponse:
    """**Open [the web page](ui/) in a browser**: a photo, the webcam or a video, with each face's box,
    emotion and probabilities."""
    return RedirectResponse("ui/", status_code=307)  # relative: works behind a path prefix too


info_app.mount("/ui", StaticFiles(directory=WEB_PAGE, html=True), name="web page")
# Multipart file fields. They are lists so that a request without the field reaches the API and
# gets our own 400 (BentoML 1.4.40 cannot build an Optional[Path] input on Python 3.11).
IMAGE_FIELD = "one image file: JPEG, PNG, WebP or BMP"
VIDEO_FIELD = "one video file: MP4, AVI, MOV, MKV or WebM"


def _error(ctx: bentoml.Context, status: int, message: str) -> dict:
    ctx.response.status_code = status
    return ErrorResponse(error=message).model_dump()


def parse_frame_rate(value: Any, default: float, maximum: float) -> float:
    """The `frame_rate` form field: analysed frames per second, `default` when absent, at most `maximum`."""
    if value is None or str(value).strip() == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        rate = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"frame_rate must be a number, got {value!r}") from None
    if not 0 < rate <= maximum:
        raise ValueError(f"frame_rate must be > 0 and <= {maximum:g}, got {value!r}")
    return rate


@bentoml.service(
    name="emoscan",
    workers=int(os.environ.get("MAX_WORKERS", "1")),
    threads=load_settings().service.threads,  # requests analysed at once by each worker
    http={"port": int(os.environ.get("PORT", "3000"))},
    traffic={"timeout": 300},
    logging={"access": {"enabled": True}},
)
@bentoml.asgi_app(info_app, path="/")
class Emoscan:
    """Finds every face in an image or video and reads its expression."""

    def __init__(self) -> None:
        # the model (MODEL_PATH, else the shipped fer2013) and the run-time settings, chosen as the
        # Python API and the CLI choose them
        self.recognizer = EmotionRecognizer()
        self.source, self.analyzer, self.limits = self.recognizer.source, self.recognizer.analyzer, self.recognizer.limits
        log.info("emoscan %s serving %s (%s) from %s", __version__, self.source.name, self.source.origin,
                 self.source.path)

    @bentoml.api(route="/detect")
    def detect(self, ctx: bentoml.Context,
               image: List[Path] = Field(default_factory=list, description=IMAGE_FIELD)) -> dict:
        """Every face in the image with its emotion, confidence and a probability per class of the model."""
        if not image:
            return _error(ctx, 400, "No image uploaded")
        if len(image) > 1:
            return _error(ctx, 400, "Upload one image per request")
        try:
            pixels = decode_upload(image[0].read_bytes(), self.limits.max_image_pixels)
        except ImageDecodeError as exc:
            return _error(ctx, exc.status, str(exc))
        faces = self.analyzer.analyze_image(pixels)
        size = {"width": int(pixels.shape[1]), "height": int(pixels.shape[0])}
        if not faces:
            return DetectResponse(faces=[], error="No face detected", image=size).model_dump(exclude_none=True)
        largest = faces[0]
        return DetectResponse(
            faces=[f.to_dict() for f in faces], emotion=largest.emotion, confidence=round(largest.confidence, 4),
            face_location=largest.box.to_dict(), image=size,
        ).model_dump(exclude_none=True)

    @bentoml.api(route="/detect-video")
    def detect_video(self, ctx: bentoml.Context,
                     video: List[Path] = Field(default_factory=list, description=VIDEO_FIELD),
                     # Any: BentoML JSON-decodes form values ("2" arrives as 2); parse_frame_rate checks it
                     frame_rate: Any = Field(None, description="analysed frames per second (default 1)"),
                     ) -> dict:
        """Faces and emotions in `frame_rate` frames per second of the video, and a summary."""
        if not video:
            return _error(ctx, 400, "No video uploaded")
        if len(video) > 1:
            return _error(ctx, 400, "Upload one video per request")
        video = video[0]
        try:
            rate = parse_frame_rate(frame_rate, self.limits.default_frame_rate, self.limits.max_frame_rate)
        except ValueError as exc:
            return _error(ctx, 400, str(exc))
        if Path(video).stat().st_size == 0:
            return _error(ctx, 400, "Empty video file")
        if is_still_image(video):
            return _error(ctx, 415, "This is a still image, not a video: send images to /detect")
        try:
            analysis = self.analyzer.analyze_video(str(video), rate, self.limits.max_video_frames_analysed)
        except VideoDecodeError:
            return _error(ctx, 415, "Not a decodable video: upload an MP4, AVI, MOV, MKV or WebM file")
        body = analysis.to_dict()
        body["summary"]["frame_rate"] = rate
        return VideoResponse(**body).model_dump()

    @info_app.get("/metadata")
    def metadata(self) -> dict:
        """Model, classes, face detector and limits."""
        classifier, inference = self.analyzer.classifier, self.recognizer.settings
        return {
            "service": "emoscan", "version": __version__,
            "model": {"name": self.source.name, "version": self.source.version, "origin": self.source.origin,
                      "path": str(self.source.path), "test_time_augmentation": classifier.tta,
                      "quantization": classifier.quantization,
                      "class_offsets": None if classifier.class_offsets is None
                      else dict(zip(self.analyzer.labels, classifier.class_offsets.tolist()))},
            "classes": list(self.analyzer.labels),
            "face_detector": {"name": self.analyzer.detector.name, "score_threshold": inference.score_threshold,
                              "min_face_size": inference.min_face_size},
            "limits": self.limits.model_dump(),
            "inference": inference.model_dump(),
        }


# added last, runs first: a request without a valid key is refused before any limit is counted
Emoscan.add_asgi_middleware(ServerTimingMiddleware)
Emoscan.add_asgi_middleware(OpenApiErrorsMiddleware, with_keys=bool(configured_keys()))
Emoscan.add_asgi_middleware(ServiceLimitsMiddleware)  # the `service` section of params.yaml, read at start-up
Emoscan.add_asgi_middleware(ApiKeyMiddleware, keys=configured_keys())
if CORS_ORIGINS:  # the origins whose web pages may call the API from a browser
    Emoscan.add_asgi_middleware(CORSMiddleware, allow_origins=CORS_ORIGINS, allow_methods=["GET", "POST"],
                                allow_headers=["Authorization", "X-API-Key", "Content-Type"])
