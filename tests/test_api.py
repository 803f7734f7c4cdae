"""The Python API (`emoscan.EmotionRecognizer`) on real images and videos, with the shipped model."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

import emoscan
from emoscan.inference.analyzer import VideoDecodeError
from emoscan.inference.bundle import SHIPPED_MODEL_DIR
from emoscan.inference.decode import ImageDecodeError
from conftest import BIN, CLASSES, place_faces, run


@pytest.fixture(scope="module")
def recognizer():
    # the shipped model by name, whatever MODEL_PATH or this machine's BentoML store hold
    return emoscan.EmotionRecognizer(SHIPPED_MODEL_DIR)


def test_import_stays_light():
    code = "import sys, emoscan; print(sorted({'onnxruntime', 'cv2', 'tensorflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", "importing emoscan must not load the inference stack"


def test_every_input_form_gives_the_same_faces(recognizer, media):
    png = media["one_face_png"]
    bgr = cv2.imread(str(png), cv2.IMREAD_COLOR)
    forms = {
        "path": png, "str": str(png), "bytes": png.read_bytes(), "pil": Image.open(png),
        "bgr": bgr, "gray": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), "bgra": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
    }
    results = {name: recognizer.detect_emotions(image) for name, image in forms.items()}
    reference = results["path"]
    assert len(reference) == 1
    face = reference[0]
    assert face.emotion == max(face.probabilities, key=face.probabilities.get)
    assert tuple(face.probabilities) == CLASSES and abs(sum(face.probabilities.values()) - 1) < 1e-3
    for name, faces in results.items():
        assert len(faces) == 1, name
        assert faces[0].box.iou(face.box) > 0.9, name
        np.testing.assert_allclose(list(faces[0].probabilities.values()), list(face.probabilities.values()),
                                   atol=0.02, err_msg=name)


def test_matches_the_cli_on_the_same_files(recognizer, media):
    paths = [media["three_faces"], media["astronaut"]]
    cli = json.loads(run([str(BIN / "emoscan"), "predict", *map(str, paths), "--json", "--model",
                          str(recognizer.source.path)]).stdout)
    api = [{"image": str(p), "faces": [f.to_dict() for f in recognizer.detect_emotions(p)]} for p in paths]
    assert api == cli
    assert [len(r["faces"]) for r in api] == [3, 1]


def test_top_emotion_largest_face_or_none(recognizer, media):
    faces = recognizer.detect_emotions(media["three_faces"])
    assert [f.box.area for f in faces] == sorted((f.box.area for f in faces), reverse=True)
    assert recognizer.top_emotion(media["three_faces"]) == (faces[0].emotion, faces[0].confidence)
    assert recognizer.top_emotion(media["no_face"]) is None
    assert recognizer.detect_emotions(media["no_face"]) == []


def test_exif_orientation_is_applied(recognizer, detectable_faces):
    upright = place_faces(detectable_faces[:1], size=200)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the stored pixels lie on their side
    buffer = io.BytesIO()
    Image.fromarray(np.rot90(upright[:, :, ::-1], k=1).copy()).save(buffer, "JPEG", quality=95, exif=exif)
    faces = recognizer.detect_emotions(buffer.getvalue())
    assert len(faces) == 1
    assert faces[0].box.iou(recognizer.detect_emotions(upright)[0].box) > 0.8


def test_16_bit_and_other_image_modes_decode_to_the_same_face(recognizer, media):
    bgr = cv2.imread(str(media["one_face_png"]), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    reference = recognizer.detect_emotions(gray)[0]
    encoded = {
        "16-bit grayscale PNG": cv2.imencode(".png", gray.astype(np.uint16) * 257)[1].tobytes(),
        "16-bit colour PNG": cv2.imencode(".png", bgr.astype(np.uint16) * 257)[1].tobytes(),
    }
    for mode in ("CMYK", "P", "LA"):
        buffer = io.BytesIO()
        Image.fromarray(bgr[:, :, ::-1]).convert(mode).save(buffer, "JPEG" if mode == "CMYK" else "PNG")
        encoded[mode] = buffer.getvalue()
    for name, data in encoded.items():
        pixels = recognizer.load_image(data)
        assert pixels.dtype == np.uint8 and abs(float(pixels.mean()) - float(gray.mean())) < 3, name
        faces = recognizer.detect_emotions(data)
        assert len(faces) == 1 and faces[0].box.iou(reference.box) > 0.75, name  # palettes dither


def test_faces_in_a_large_photo_are_found(recognizer, detectable_faces):
    """A 12-Mpixel photo with 250-px faces: params.yaml's detection size finds them all, the live
    mode's (480 px, for speed) misses some."""
    faces = detectable_faces[:6]
    offsets = [(300 + i * 600, 1200) for i in range(len(faces))]
    photo = place_faces(faces, size=250, canvas=(3000, 4000), offsets=offsets)
    assert recognizer.settings.detection_max_side >= 1280
    assert len(recognizer.detect_emotions(photo)) == len(faces)
    from emoscan.cli.common import load_analyzer

    live = load_analyzer(str(SHIPPED_MODEL_DIR), live=True)
    assert live.detector.max_side == recognizer.settings.live_detection_max_side == 480
    assert len(live.analyze_image(photo)) < len(faces)


def test_given_boxes_skip_detection(recognizer, media):
    detected = recognizer.detect_emotions(media["three_faces"])
    boxes = [f.box.to_list() for f in detected]
    given = recognizer.detect_emotions(media["three_faces"], boxes=boxes)
    assert [f.emotion for f in given] == [f.emotion for f in detected]
    assert [f.box.to_list() for f in given] == boxes
    image = cv2.imread(str(media["three_faces"]))
    h, w = image.shape[:2]
    (clipped,) = recognizer.detect_emotions(image, boxes=[(w - 50, -20, 100, 100)])
    assert clipped.box.to_list() == [w - 50, 0, 50, 80], "boxes are clipped to the image"


def test_classify_crops_agrees_with_the_fer_labels(recognizer, fer_faces):
    crops = [face for label in CLASSES for face in fer_faces[label][:10]]
    labels = np.repeat(np.arange(len(CLASSES)), 10)
    probs = recognizer.classify_crops(np.stack(crops))
    assert probs.shape == (70, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    assert (probs.argmax(axis=1) == labels).mean() > 0.5  # test images; the model scores ~0.70
    one = recognizer.classify_crops(cv2.resize(crops[0], (96, 96)))  # one crop, any size
    assert one.shape == (1, 7) and one.argmax() == probs[0].argmax()
    assert recognizer.classify_crops([]).shape == (0, 7)


def test_video_analysis_and_summary(recognizer, media):
    analysis = recognizer.analyze_video(media["video"], frame_rate=2)
    summary = analysis.summary()
    assert summary["total_frames"] == 6 and summary["faces_detected"] == 12  # 3 s, 2 faces a frame
    assert summary["dominant_emotion"] in CLASSES
    assert len(analysis.to_dict()["results"]) == 6


def test_video_frames_detected_at_once_give_what_one_at_a_time_gives(media):
    """`inference.video_detectors` detects several frames at once on threads; the results, in
    frame order, are those of one detector taking the frames one after another."""
    one = emoscan.EmotionRecognizer(SHIPPED_MODEL_DIR, video_detectors=1).analyze_video(media["video"], frame_rate=30)
    three = emoscan.EmotionRecognizer(SHIPPED_MODEL_DIR, video_detectors=3)
    many = three.analyze_video(media["video"], frame_rate=30)
    assert len(three.analyzer._video_detectors) == 3  # three sessions, each used by one thread at a time
    assert [r.frame for r in many.results] == [r.frame for r in one.results] == list(range(len(one.results)))
    assert len(one.results) == 30 and sum(len(r.faces) for r in one.results) >= 2 * len(one.results) - 2  # every frame
    for a, b in zip(one.results, many.results):
        assert [f.box for f in a.faces] == [f.box for f in b.faces]
        for fa, fb in zip(a.faces, b.faces):
            assert fa.emotion == fb.emotion and abs(fa.confidence - fb.confidence) < 1e-5


def test_settings_override_params(media):
    strict = emoscan.EmotionRecognizer(SHIPPED_MODEL_DIR, min_face_size=400)
    assert strict.tta == "none" and strict.settings.min_face_size == 400  # the bundle's TTA (v12: none)
    assert strict.detect_emotions(media["three_faces"]) == []


@pytest.mark.parametrize("call, error, message", [
    (lambda r, m: r.detect_emotions(m["truncated"]), ImageDecodeError, "Corrupt or truncated image"),
    (lambda r, m: r.detect_emotions(m["not_video"]), ImageDecodeError, "Not an image"),
    (lambda r, m: r.detect_emotions(b""), ImageDecodeError, "Empty image file"),
    (lambda r, m: r.detect_emotions(m["three_faces"].parent / "missing.jpg"), FileNotFoundError, "no such file"),
    (lambda r, m: r.detect_emotions(np.zeros((48, 48), np.float32)), ValueError, "expected a uint8 array"),
    (lambda r, m: r.detect_emotions(np.zeros((48, 48, 2), np.uint8)), ValueError, "got shape"),
    (lambda r, m: r.detect_emotions(42), TypeError, "expected a path, bytes"),
    (lambda r, m: r.detect_emotions(m["three_faces"], boxes=[(0, 0, 0, 10)]), ValueError, "empty or outside"),
    (lambda r, m: r.analyze_video(m["not_video"]), VideoDecodeError, "not a readable video"),
    (lambda r, m: r.analyze_video(m["video"], frame_rate=0), ValueError, "frame_rate must be > 0"),
    (lambda r, m: emoscan.EmotionRecognizer(tta="flip"), ValueError, "settings.tta: unknown key"),  # the bundle's
    (lambda r, m: emoscan.EmotionRecognizer(min_face_size=-1), ValueError, "settings.min_face_size"),
    (lambda r, m: emoscan.EmotionRecognizer(colour=True), ValueError, "unknown key"),
    (lambda r, m: emoscan.EmotionRecognizer(face_crop_scale=0), ValueError, "face_crop_scale: expected a number above 0"),
    (lambda r, m: emoscan.EmotionRecognizer(m["three_faces"].parent / "no_bundle"), FileNotFoundError, "does not exist"),
])
def test_bad_input_is_a_clear_error(recognizer, media, call, error, message):
    with pytest.raises(error, match=message):
        call(recognizer, media)
