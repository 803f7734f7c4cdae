"""The web page at /ui, in Debian's Chromium driven by Playwright, against the real server on
loopback: photos, errors, a video's timeline, the webcam (Chromium's fake camera fed with a real
face), a phone-width screen, and Swagger UI at the root. Screenshots go to build/screenshots/."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import SCREENSHOTS, bentoml_server, place_faces

pytestmark = pytest.mark.slow
#: the page's own pace is what is tested here, not the rate limits
LIMITS = {"rate_limit_detect_per_min": 100000, "rate_limit_video_per_min": 1000}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with bentoml_server(tmp_path_factory.mktemp("web"), service=LIMITS) as (url, _):
        yield url


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/ui")
    page.locator("#model-info").filter(has_text="Model").wait_for()
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def webm(tmp_path_factory, detectable_faces):
    """A 4-second VP8 WebM (a codec both Chromium and the server's OpenCV read): one face moving
    right, then (from 2 s) a second face beside it."""
    path = tmp_path_factory.mktemp("webm") / "two_faces.webm"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), 10.0, (640, 480))
    assert writer.isOpened(), "OpenCV cannot write VP8"
    for i in range(40):
        faces = detectable_faces[3:5] if i >= 20 else detectable_faces[3:4]
        writer.write(place_faces(faces, size=150, offsets=[(40 + 2 * i, 100), (360, 160)][:len(faces)]))
    writer.release()
    return path


def box_centres(page, stage: str) -> list[tuple[float, float]]:
    """Centres of the face boxes drawn over `stage`'s picture, in the picture's pixels."""
    return page.evaluate("""([stage, selector]) => {
        const media = document.querySelector(stage);
        const r = media.getBoundingClientRect();
        const width = media.naturalWidth || media.videoWidth;
        return [...media.parentElement.querySelectorAll('.face-box')].map((b) => {
            const q = b.getBoundingClientRect();
            return [(q.x + q.width / 2 - r.x) * width / r.width, (q.y + q.height / 2 - r.y) * width / r.width];
        });
    }""", [stage, None])


def bar_percentages(page, container: str) -> dict[str, float]:
    return {b.get_attribute("data-emotion"): float(b.get_attribute("data-percent"))
            for b in page.locator(f"{container} .bar").all()}


def test_a_photo_gets_a_box_label_and_bars_per_face(page, media):
    page.set_input_files("#image-file", str(media["three_faces"]))
    page.locator("#image-summary").filter(has_text="3 faces found").wait_for()
    boxes = page.locator("#image-result .face-box")
    assert boxes.count() == 3
    # place_faces put the 150-px faces at x = 40, 230, 420 and y = 120 of the 640x480 photo
    centres = sorted(box_centres(page, "#image-view"))
    for (x, y), left in zip(centres, (40, 230, 420)):
        assert abs(x - (left + 75)) < 30 and abs(y - 195) < 30, centres
    labels = [boxes.nth(i).inner_text() for i in range(3)]
    assert all(label.split()[0] in {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"} for label in labels)
    first = bar_percentages(page, "#image-bars")
    assert len(first) == 7 and abs(sum(first.values()) - 100) < 0.5, first
    boxes.nth(2).hover()  # the face under the pointer shows its own bars
    page.wait_for_function("document.querySelectorAll('#face-list li')[2].classList.contains('selected')")
    third = bar_percentages(page, "#image-bars")
    assert third != first and abs(sum(third.values()) - 100) < 0.5
    assert "server" in page.locator("#image-timing").inner_text() and " ms" in page.locator("#image-timing").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "web_photo.png"))


def test_a_text_file_gets_a_message_and_the_page_keeps_working(page, media, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    page.set_input_files("#image-file", str(notes))
    message = page.locator("#message")
    message.wait_for()
    assert "not a photo emoscan can read" in message.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "web_error.png"))
    page.set_input_files("#image-file", str(media["no_face"]))
    page.locator("#image-summary").filter(has_text="No face found").wait_for()
    assert message.is_hidden(), "a good request clears the message"
    page.set_input_files("#image-file", str(media["one_face_png"]))
    page.locator("#image-summary").filter(has_text="1 face found").wait_for()


def test_a_video_draws_a_timeline_that_seeks(page, webm):
    page.click("#tab-video")
    page.set_input_files("#video-file", str(webm))
    page.fill("#video-rate", "5")
    page.click("#video-form button[type=submit]")
    page.locator("#video-result").wait_for(timeout=60_000)
    assert page.locator("#timeline path").count() == 7, "one line per emotion"
    assert "Mostly" in page.locator("#video-dominant").inner_text()
    page.wait_for_function("document.querySelector('#video-view').readyState >= 1")
    timeline = page.locator("#timeline").bounding_box()
    page.mouse.click(timeline["x"] + 0.75 * timeline["width"], timeline["y"] + timeline["height"] / 2)
    page.wait_for_function("Math.abs(document.querySelector('#video-view').currentTime - 3.0) < 0.25")
    page.wait_for_function("document.querySelectorAll('#video-result .face-box').length === 2")  # 3 s: two faces
    page.mouse.click(timeline["x"] + 0.1 * timeline["width"], timeline["y"] + timeline["height"] / 2)
    page.wait_for_function("Math.abs(document.querySelector('#video-view').currentTime - 0.4) < 0.25")
    page.wait_for_function("document.querySelectorAll('#video-result .face-box').length === 1")  # 0.4 s: one face
    page.focus("#timeline")
    page.keyboard.press("End")
    page.wait_for_function("document.querySelector('#video-view').currentTime > 3.5")
    page.screenshot(path=str(SCREENSHOTS / "web_video.png"), full_page=True)


def test_the_webcam_shows_boxes_over_the_live_video(launch_chromium, server, detectable_faces, tmp_path):
    """Chromium's fake camera plays a Y4M file made from a real face photo."""
    frame = cv2.cvtColor(place_faces(detectable_faces[:1], size=200, offsets=[(220, 140)]), cv2.COLOR_BGR2YUV_I420)
    camera = tmp_path / "face.y4m"
    with open(camera, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            out.write(b"FRAME\n" + np.ascontiguousarray(frame).tobytes())
    chromium = launch_chromium("--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera}",
                               "--use-fake-ui-for-media-stream")
    context = chromium.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/ui")
    page.click("#tab-webcam")
    page.click("#webcam-start")
    page.locator("#webcam-rate").filter(has_text="frames/s").wait_for(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#panel-webcam .face-box').length === 1")
    (x, y), = box_centres(page, "#webcam-view")
    assert abs(x - 320) < 40 and abs(y - 240) < 40, (x, y)
    page.wait_for_function("parseFloat(document.querySelector('#webcam-rate').textContent) > 0")
    assert abs(sum(bar_percentages(page, "#webcam-bars").values()) - 100) < 0.5
    page.screenshot(path=str(SCREENSHOTS / "web_webcam.png"))
    page.click("#webcam-stop")
    page.wait_for_function("document.querySelector('#webcam-view').srcObject === null")
    context.close()


def test_the_page_fits_a_phone_and_every_control_has_a_label(browser, server, media):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{server}/ui")
    page.set_input_files("#image-file", str(media["three_faces"]))
    page.locator("#image-summary").filter(has_text="faces found").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, button, select, [role=slider]')]
        .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map((e) => e.outerHTML)""")
    assert not unlabelled, unlabelled
    page.evaluate("document.activeElement.blur()")
    for _ in range(3):  # the keyboard reaches the tabs (after the link to the API documentation)
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "tab-image":
            break
    assert page.evaluate("document.activeElement.id") == "tab-image"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-webcam" and page.locator("#panel-webcam").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "web_phone.png"), full_page=True)
    page.close()


def test_swagger_ui_at_the_root_lists_the_endpoints_and_links_the_page(browser, server):
    page = browser.new_page()
    page.goto(server)
    page.locator(".opblock-summary-path", has_text="/detect-video").wait_for(timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/detect" in paths and "/detect-video" in paths and "/ui" in paths, paths
    page.locator(".opblock-summary-path", has_text="/ui").first.click()
    link = page.get_by_role("link", name="the web page")
    target = page.evaluate("(a) => a.href", link.element_handle())
    assert target == f"{server}/ui/", target
    page.goto(target)
    page.locator("#tab-image").wait_for()
    page.close()
