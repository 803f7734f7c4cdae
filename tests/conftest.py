"""Shared fixtures: FER-2013 from ../shared (skip when absent), small raw datasets, real media."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
FER_ZIP = Path(os.environ.get("EMOSCAN_FER_ZIP", REPO.parent / "shared" / "data" / "fer2013" / "fer2013.zip"))
FERPLUS_ZIP = Path(os.environ.get("EMOSCAN_FERPLUS_ZIP", REPO.parent / "shared" / "data" / "ferplus" / "ferplus.zip"))
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
BIN = Path(sys.executable).parent
# a CLI run that picks its model only from its arguments: no MODEL_PATH, no BentoML model store
SHIPPED_ONLY = {"MODEL_PATH": "", "BENTOML_HOME": "/nonexistent-bentoml-home"}


#: the longest modules first, so that the test processes share the work evenly (pytest-xdist)
LONGEST_FIRST = ("test_pipeline.py", "test_bento.py", "test_package.py", "test_soak.py", "test_batch.py", "test_training_recipe.py",
                 "test_model.py", "test_gpu_tools.py")


def pytest_collection_modifyitems(items) -> None:
    order = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))  # stable: each module keeps its order


def flat_params(model: str = "fer2013") -> dict:
    """What a pipeline stage of `model` reads: emoscan.settings.load_params over params.yaml."""
    from emoscan.settings import load_params

    return load_params(REPO / "params.yaml", model=model)


def require_fer() -> Path:
    if not FER_ZIP.is_file():
        pytest.skip(f"FER-2013 not found at {FER_ZIP} (put the Kaggle zip there or set EMOSCAN_FER_ZIP)")
    return FER_ZIP


@pytest.fixture(scope="session")
def fer_zip() -> Path:
    return require_fer()


@pytest.fixture(scope="session")
def ferplus_zip() -> Path:
    if not FERPLUS_ZIP.is_file():
        pytest.skip(f"FER+ not found at {FERPLUS_ZIP} (put FERPlus's zip there or set EMOSCAN_FERPLUS_ZIP)")
    return FERPLUS_ZIP


@pytest.fixture(scope="session")
def fer2013_split(tmp_path_factory, fer_zip) -> Path:
    """FER-2013 as the pipeline's fetch and split stages make it from the zip (params.yaml's
    `fetch` and `split`, the same seed): the folder of its train/val/test .npz files."""
    import yaml

    from emoscan.data.fetch import fetch
    from emoscan.data.split import split_dataset

    params = flat_params()
    root = tmp_path_factory.mktemp("fer2013")
    fetch({**params["fetch"], "source": "zip", "local_path": str(fer_zip), "output_dir": str(root / "raw")})
    split_dataset(root / "raw", {**params["split"], "output_dir": str(root / "processed")})
    return root / "processed"


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory, fer_zip) -> Path:
    """A raw image-folder layout with the first 30 train and 8 test images of every class."""
    root = tmp_path_factory.mktemp("raw") / "raw"
    with zipfile.ZipFile(fer_zip) as zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith(".jpg"))
        for split, per_class in (("train", 30), ("test", 8)):
            for label in CLASSES:
                picked = [n for n in names if f"{split}/{label}/" in n][:per_class]
                target = root / split / label
                target.mkdir(parents=True)
                for n in picked:
                    (target / Path(n).name).write_bytes(zf.read(n))
    return root


@pytest.fixture(scope="session")
def fer_faces(fer_zip) -> dict[str, list[np.ndarray]]:
    """Real 48x48 test faces per class (grayscale uint8), the first 20 of each."""
    faces: dict[str, list[np.ndarray]] = {c: [] for c in CLASSES}
    with zipfile.ZipFile(fer_zip) as zf:
        for n in sorted(zf.namelist()):
            parts = n.split("/")
            if (n.lower().endswith(".jpg") and len(parts) >= 3 and parts[-3] == "test" and parts[-2] in faces
                    and len(faces[parts[-2]]) < 20):
                img = cv2.imdecode(np.frombuffer(zf.read(n), np.uint8), cv2.IMREAD_GRAYSCALE)
                faces[parts[-2]].append(img)
    return faces


def place_faces(faces: list[np.ndarray], size: int = 150, canvas=(480, 640),
                offsets: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Real faces, upscaled to `size`, on a plain BGR canvas at the given top-left offsets."""
    image = np.full((*canvas, 3), 190, np.uint8)
    offsets = offsets or [(40 + i * (size + 40), 120) for i in range(len(faces))]
    for face, (x, y) in zip(faces, offsets):
        big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        image[y:y + size, x:x + size] = big[..., None]
    return image


@pytest.fixture(scope="session")
def detectable_faces(fer_faces) -> list[np.ndarray]:
    """FER test faces that the face detector finds when placed alone on a canvas."""
    from emoscan.inference.detectors import make_detector

    detector = make_detector(max_side=640)
    found = [f for c in ("happy", "surprise", "neutral", "angry", "sad") for f in fer_faces[c][:6]
             if len(detector.detect(place_faces([f]))) == 1]
    assert len(found) >= 6, "the detector should find most upscaled FER faces"
    return found


@pytest.fixture(scope="session")
def media(tmp_path_factory, detectable_faces) -> dict[str, Path]:
    """Real images and videos made from FER-2013 faces and skimage's astronaut photo."""
    from skimage import data

    out = tmp_path_factory.mktemp("media")
    paths = {
        "three_faces": out / "three_faces.jpg",
        "one_face_png": out / "one_face.png",
        "no_face": out / "no_face.jpg",
        "astronaut": out / "astronaut.jpg",
        "video": out / "faces.mp4",
        "video_avi": out / "faces.avi",
        "not_video": out / "notes.mp4",
        "truncated": out / "truncated.jpg",
    }
    cv2.imwrite(str(paths["three_faces"]), place_faces(detectable_faces[:3], size=150))
    cv2.imwrite(str(paths["one_face_png"]), place_faces(detectable_faces[:1], size=200))
    cv2.imwrite(str(paths["no_face"]), cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8), (31, 31), 0))
    cv2.imwrite(str(paths["astronaut"]), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    for key, fourcc in (("video", "mp4v"), ("video_avi", "MJPG")):
        writer = cv2.VideoWriter(str(paths[key]), cv2.VideoWriter_fourcc(*fourcc), 10.0, (640, 480))
        assert writer.isOpened()
        for i in range(30):  # 3 s at 10 fps: two faces drifting right
            writer.write(place_faces(detectable_faces[3:5], size=150, offsets=[(40 + 3 * i, 100), (330 + 3 * i, 160)]))
        writer.release()
    paths["not_video"].write_text("this is a text file, not a video\n")
    full = paths["astronaut"].read_bytes()
    paths["truncated"].write_bytes(full[: len(full) // 3])
    return paths


def record_training_targets(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A dict that gets "targets": what the train stage passes make_dataset for training."""
    from emoscan.training.fit import train as train_module

    seen: dict = {}
    real_make_dataset = train_module.make_dataset

    def recording_make_dataset(x, y, *args, training=False, **kwargs):
        if training:
            seen["targets"] = y
        return real_make_dataset(x, y, *args, training=training, **kwargs)

    monkeypatch.setattr(train_module, "make_dataset", recording_make_dataset)
    return seen


def random_splits(data: Path, sizes: dict[str, int], seed: int, every_class: bool = False) -> Path:
    """Split arrays as the split stage writes them (`<split>.npz` with uint8 48x48 `x` and labels
    `y`), of random pixels, for tests that need the files and not the faces. Labels are random, or
    with `every_class` cycle through the seven classes (each present, for class weights)."""
    rng = np.random.default_rng(seed)
    data.mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        labels = np.arange(n) % 7 if every_class else rng.integers(0, 7, n)
        np.savez(data / f"{split}.npz", x=rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), y=labels)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 900,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with the test venv's bin first on PATH; fail with its output."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    # mlflow.set_tracking_uri() in an earlier test exports MLFLOW_TRACKING_URI; each project
    # under test must use its own params.yaml store unless a test asks otherwise
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def copy_project(dest: Path) -> Path:
    """The tracked project files (no data, models/train or stores) in a fresh folder."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


CHROMIUM = Path(os.environ.get("EMOSCAN_CHROMIUM", "/usr/bin/chromium"))
#: screenshots the browser tests save, for people to look at (build/ is ignored by git)
SCREENSHOTS = Path(os.environ.get("EMOSCAN_SCREENSHOTS", REPO / "build" / "screenshots"))


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def launch_chromium():
    """A function that starts Debian's Chromium driven by Playwright (launched by its path: no
    browser download), headless, with Chromium's own background traffic off (the pages under test are
    on loopback or on disk) and any extra command-line switches; every browser is closed at the end."""
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (`make install` installs Debian's chromium as root)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    launched = []
    with sync_playwright() as playwright:
        def launch(*extra_args: str):
            launched.append(playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + list(extra_args)))
            return launched[-1]

        yield launch
        for chromium in launched:
            chromium.close()


@pytest.fixture(scope="session")
def browser(launch_chromium):
    """One Chromium shared by the browser tests."""
    return launch_chromium()


def wait_until_up(url: str, proc: subprocess.Popen, log_path: Path | None = None, seconds: int = 120) -> None:
    """Poll `url` until it answers 200; fail with the end of the server's log if the process exits
    or `seconds` pass first."""
    for _ in range(seconds):
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or busy starting
            pass
        if proc.poll() is not None:
            break
        time.sleep(1)
    log = log_path.read_text()[-4000:] if log_path is not None and log_path.is_file() else ""
    pytest.fail(f"{url} did not come up (exit code {proc.poll()}):\n{log}")


def stop_process(proc: subprocess.Popen, seconds: float = 20) -> None:
    """Stop a server started with start_new_session=True: SIGTERM to its process group, SIGKILL
    after `seconds` (a loaded machine can take longer to stop a server's workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


@contextlib.contextmanager
def bentoml_server(tmp: Path, env: dict | None = None, service: dict | None = None, target: str = "service:Emoscan",
                   cwd: Path = REPO):
    """`bentoml serve` on a free loopback port with params.yaml's `service` section overridden by
    `service` and the environment by `env`; yields (url, log path) once /readyz answers."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["service"].update(service or {})
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    port = free_port()
    full_env = {**os.environ, "EMOSCAN_PARAMS": str(tmp / "params.yaml"), "BENTOML_HOME": str(tmp / "bentoml"),
                "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    full_env.pop("MODEL_PATH", None) if "MODEL_PATH" not in (env or {}) else None
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(BIN / "bentoml"), "serve", target, "--port", str(port), "--host", "127.0.0.1"],
                                cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/readyz", proc, log_path, 120)
            yield url, log_path
        finally:
            stop_process(proc)
