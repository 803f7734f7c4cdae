"""Pydantic schemas of the HTTP API (responses are validated against them before they leave)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BoxModel(BaseModel):
    x: int
    y: int
    width: int
    height: int


class FaceModel(BaseModel):
    box: BoxModel
    emotion: str
    confidence: float = Field(ge=0, le=1)
    probabilities: dict[str, float]


class DetectResponse(BaseModel):
    """Every face, plus the largest face's fields at top level (compatible with the seed API)."""

    faces: list[FaceModel]
    emotion: str | None = None
    confidence: float | None = None
    face_location: BoxModel | None = None
    image: dict[str, int] | None = None
    error: str | None = None


class VideoFaceModel(BaseModel):
    box: list[int] = Field(min_length=4, max_length=4)
    emotion: str
    confidence: float
    probabilities: dict[str, float]


class VideoFrameModel(BaseModel):
    frame: int
    timestamp: str
    faces: list[VideoFaceModel]


class VideoSummaryModel(BaseModel):
    total_frames: int
    faces_detected: int
    dominant_emotion: str | None
    emotion_distribution: dict[str, float]
    duration: float
    fps: float
    video_frames: int
    width: int
    height: int
    frame_rate: float


class VideoResponse(BaseModel):
    results: list[VideoFrameModel]
    summary: VideoSummaryModel


class ErrorResponse(BaseModel):
    error: str
