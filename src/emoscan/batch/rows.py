"""The rows of a batch job's output: one per face, one per file, one per file that failed."""

from __future__ import annotations

from collections import Counter

from emoscan.inference.types import Face


def face_rows(source: str, faces: list[Face], labels: tuple[str, ...], model: dict[str, str],
              frame: int | None = None, timestamp: float | None = None) -> list[dict]:
    """One row per face: where it is, its emotion, the probability of every class (`p_<class>`),
    and the model that read it. `frame` and `timestamp` (seconds) are set for videos."""
    rows = []
    for face in faces:
        box = face.box
        row = {"source": source, "frame": frame, "timestamp": timestamp, "x": box.x, "y": box.y,
               "width": box.width, "height": box.height, "detection_score": round(box.score, 4),
               "roll": round(box.roll, 2), "emotion": face.emotion, "confidence": face.confidence}
        row.update({f"p_{label}": face.probabilities[label] for label in labels})
        row.update(model)
        rows.append(row)
    return rows


def file_row(source: str, kind: str, sha256: str, rows: list[dict], model: dict[str, str], seconds: float,
             frames: int | None = None, error: str | None = None) -> dict:
    """The summary of one file: faces found, frames analysed (videos), the dominant emotion, the time
    it took, or the reason it failed."""
    emotions = Counter(r["emotion"] for r in rows)
    return {"source": source, "kind": kind, "sha256": sha256, "status": "error" if error else "ok", "error": error,
            "faces": len(rows), "frames_analysed": frames,
            "dominant_emotion": emotions.most_common(1)[0][0] if emotions else None,
            "seconds": round(seconds, 4), **model}
