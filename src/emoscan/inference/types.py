"""Result types of the inference layer (plain dataclasses, JSON-friendly via `to_dict`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Box:
    """A face box in pixels of the original image."""

    x: int
    y: int
    width: int
    height: int
    score: float = 1.0
    #: in-plane tilt of the eye line in degrees (from the detector's landmarks; 0 when unknown):
    #: rotating the image by it about the box centre levels the eyes
    roll: float = 0.0

    @property
    def area(self) -> int:
        return self.width * self.height

    def iou(self, other: Box) -> float:
        """Intersection over union with another box."""
        ix = max(0, min(self.x + self.width, other.x + other.width) - max(self.x, other.x))
        iy = max(0, min(self.y + self.height, other.y + other.height) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def to_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    def to_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]


@dataclass
class Face:
    """One classified face."""

    box: Box
    emotion: str
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)

    def to_dict(self, box_as_list: bool = False) -> dict:
        return {"box": self.box.to_list() if box_as_list else self.box.to_dict(),
                "emotion": self.emotion, "confidence": round(self.confidence, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}
