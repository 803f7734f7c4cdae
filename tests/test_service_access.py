"""Access control of the real server: optional API keys (401 without a valid one, probes open, keys
never logged), rate limits counted per key, CORS for the origins configured."""

from __future__ import annotations

import re
import time

import pytest
import requests

from conftest import bentoml_server

pytestmark = pytest.mark.slow
KEYS = ("first-key-8f3a2c", "second-key-91bd07")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    (tmp / "keys.txt").write_text(f"# one key per line\n{KEYS[1]}\n")
    env = {"EMOSCAN_API_KEYS": KEYS[0], "EMOSCAN_API_KEY_FILE": str(tmp / "keys.txt"),
           "EMOSCAN_CORS_ORIGINS": "http://app.example.test"}
    with bentoml_server(tmp, env, {"rate_limit_detect_per_min": 4}) as (url, log):
        yield url, log


def detect(url: str, photo, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{url}/detect", files={"image": ("face.jpg", photo.read_bytes())}, headers=headers,
                         timeout=30)


def test_probes_and_metrics_stay_open(server):
    url, _ = server
    for path in ("/healthz", "/livez", "/readyz", "/metrics"):
        assert requests.get(f"{url}{path}", timeout=5).status_code == 200, path


def test_requests_without_a_valid_key_are_401_and_keys_are_never_logged(server, media):
    url, log = server
    missing = detect(url, media["astronaut"])
    assert missing.status_code == 401 and "API key required" in missing.json()["error"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = detect(url, media["astronaut"], {"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Invalid API key"
    assert requests.get(f"{url}/metadata", timeout=5).status_code == 401
    good = detect(url, media["astronaut"], {"Authorization": f"Bearer {KEYS[0]}"})
    assert good.status_code == 200 and len(good.json()["faces"]) == 1
    from_file = requests.get(f"{url}/metadata", headers={"X-API-Key": KEYS[1]}, timeout=5)
    assert from_file.status_code == 200, "keys from EMOSCAN_API_KEY_FILE, sent as X-API-Key"
    text = log.read_text()
    assert all(key not in text for key in KEYS) and "not-a-key" not in text


def test_the_schema_documents_the_key_and_the_401(server):
    url, _ = server
    spec = requests.get(f"{url}/docs.json", timeout=10).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    for route in ("/detect", "/detect-video"):
        operation = spec["paths"][route]["post"]
        assert "401" in operation["responses"] and operation["security"] == [{"bearer": []}]


def test_rate_limits_count_per_key(server, media):
    url, _ = server
    first, second = ({"Authorization": f"Bearer {k}"} for k in KEYS)
    answers = [detect(url, media["astronaut"], second).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429], "4 per minute for the second key"
    assert detect(url, media["astronaut"], first).status_code == 200, "the first key has a count of its own"
    assert detect(url, media["astronaut"], second).status_code == 429


def test_cors_allows_the_configured_origin_only(server):
    url, _ = server
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = requests.options(f"{url}/detect", headers={"Origin": "http://app.example.test", **preflight}, timeout=5)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://app.example.test"
    other = requests.options(f"{url}/detect", headers={"Origin": "http://elsewhere.test", **preflight}, timeout=5)
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port, no persistence."""
    import shutil
    import subprocess
    import time

    from conftest import free_port

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (`make install` installs Debian's redis-server as root)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            cwd=tmp_path_factory.mktemp("redis"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import redis

    client = redis.Redis(port=port)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_two_workers_share_one_limit_in_redis(tmp_path, redis_url, media):
    """Two worker processes count in one Redis: 6 requests per minute hold for their sum. Requests
    go three at a time (a busy worker leaves the next connection to the other) until both workers
    have answered."""
    from concurrent.futures import ThreadPoolExecutor

    photo = media["astronaut"].read_bytes()

    def post(_: int) -> requests.Response:
        with requests.Session() as session:  # a new connection each time
            return session.post(f"{url}/detect", files={"image": ("f.jpg", photo)}, timeout=60)

    with bentoml_server(tmp_path, {"MAX_WORKERS": "2"},
                        {"rate_limit_detect_per_min": 6, "rate_limit_storage": redis_url}) as (url, log):
        answers: list[requests.Response] = []
        workers: set[str] = set()
        with ThreadPoolExecutor(3) as pool:
            while len(answers) < 30 and (len(answers) < 9 or len(workers) < 2):
                answers += list(pool.map(post, range(3)))
                time.sleep(0.2)  # the access log is written after the answer
                workers = set(re.findall(r"\[entry_service:emoscan:(\d+)\][^\n]*path=/detect,", log.read_text()))
        codes = [a.status_code for a in answers]
        assert len(workers) == 2, f"both workers answered: {workers}"
        assert codes.count(200) == 6 and codes.count(429) == len(codes) - 6, codes
        assert int(next(a for a in answers if a.status_code == 429).headers["Retry-After"]) >= 1
        import redis

        assert redis.Redis.from_url(redis_url).keys("*emoscan/detect*"), "the counts live in Redis"


def test_the_web_page_asks_for_the_key_once_and_explains_the_rate_limit(server, media, browser):
    """The page itself is open; the API answers it 401 until the person gives a key, which the page
    keeps for the tab. A key whose limit is spent gets the wait in words."""
    from conftest import SCREENSHOTS

    url, _ = server
    page = browser.new_page()
    page.goto(f"{url}/ui")
    page.locator("#key-dialog").wait_for()  # /metadata answered 401
    page.screenshot(path=str(SCREENSHOTS / "web_api_key.png"))
    page.fill("#api-key", KEYS[0])
    page.click("#key-dialog button[value=ok]")
    page.locator("#model-info").filter(has_text="Model").wait_for()
    page.set_input_files("#image-file", str(media["astronaut"]))
    page.locator("#image-summary").filter(has_text="1 face found").wait_for()
    assert page.evaluate("sessionStorage.getItem('emoscan-api-key')") == KEYS[0]
    page.reload()
    page.locator("#model-info").filter(has_text="Model").wait_for()
    assert not page.locator("#key-dialog").is_visible(), "the key is kept for the tab"
    page.evaluate(f"sessionStorage.setItem('emoscan-api-key', '{KEYS[1]}')")
    for _ in range(5):  # 4 per minute per key: the second key's limit is spent by now or within these
        page.set_input_files("#image-file", str(media["astronaut"]))
        page.wait_for_timeout(300)
        page.wait_for_function("!document.querySelector('#message').hidden || "
                               "document.querySelector('#image-summary').textContent.includes('found')")
        if "Too many requests" in page.locator("#message").inner_text():
            break
    assert "the server asks to wait" in page.locator("#message").inner_text()
    page.close()
