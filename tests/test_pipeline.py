"""The real `dvc repro ship@fer2013` (on a small subset: SMOKE) in a temporary git+DVC repo, checked
through DVC, the MLflow store and registry, the shipped bundle and the BentoML model store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import pytest
import yaml

from conftest import FER_ZIP, copy_project, place_faces, require_fer, run

pytestmark = pytest.mark.slow
#: the whole fer2013 chain in a few minutes on 2 CPU cores: `dvc exp run -S` overrides, written here
#: into the test repo's params.yaml (the kills below need a plain `dvc repro`)
SMOKE = {
    "datasets.fer2013.fetch.local_path": str(FER_ZIP),
    "datasets.fer2013.split.subset_fraction": 0.03,
    "datasets.fer2013.validate.min_count_per_class": 1,
    "datasets.fer2013.validate.distribution_tolerance": 0.08,
    # two epochs from the shipped soup (a kill after the first leaves one to resume), distilled from
    # v12's second network: the soup, training and distillation paths all run
    "models.fer2013.train.epochs": 2,
    "models.fer2013.train.batch_size": 32,
    "models.fer2013.train.warmup_epochs": 0,
    "models.fer2013.train.ensemble_with": [],
    "models.fer2013.train.distill_from": ["models/warm_start/emoscan_vgg_v12_soup_b.keras"],
    # a few dozen validation faces: one near-tie that rounds the other way is over 1%
    "models.fer2013.export.int8_min_agreement": 0.95,
    "models.fer2013.export.int8_min_exact_agreement": 0.95,
    # the shipped models serve without TTA and class offsets: the smoke run covers both paths
    "models.fer2013.export.tta": "flip",
    "models.fer2013.export.class_offsets.fit": True,
    "models.fer2013.export.class_offsets.halvings": 2,
}
TARGET = "ship@fer2013"


def with_overrides(raw: dict, overrides: dict) -> dict:
    """`raw` params with each dotted key set (its own copy: YAML anchors share mappings)."""
    import copy

    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        node = raw
        for part in parents:
            node[part] = node = copy.deepcopy(node[part])
        node[key] = value
    return raw


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory, fer_faces) -> Path:
    """The smoke pipeline (two epochs) in a temporary repo, run the hard way: `dvc repro` killed
    (SIGKILL, with its stage) in the middle of fetch, of split and of train, then run to the end.
    Every test of this module checks the result; `KILLS` records where each kill landed."""
    require_fer()
    repo = copy_project(tmp_path_factory.mktemp("pipeline"))
    # whole photos for evaluate.real_photos: two real faces per class, each on a canvas
    photos = repo.parent / "photos"
    for name, faces in fer_faces.items():
        (photos / name).mkdir(parents=True)
        for i, face in enumerate(faces[:2]):
            cv2.imwrite(str(photos / name / f"{i}.png"), place_faces([face], canvas=(300, 300), offsets=[(75, 75)]))
    params = with_overrides(yaml.safe_load((repo / "params.yaml").read_text()),
                            SMOKE | {"models.fer2013.evaluate.real_photos": str(photos)})
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],  # .dvc/ comes with the project
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        run(cmd, cwd=repo)
    log = repo.parent / "repro.log"
    KILLS.append(repro_killed_when(repo, log, lambda: any((repo / "data" / "fer2013").glob(".fetch-*/unzipped"))))
    KILLS.append(repro_killed_when(repo, log, lambda: stage_running(repo, "pipelines/split.py", 0.3)))
    KILLS.append(repro_killed_when(repo, log, lambda: logged_epochs(repo) >= 1))
    run(["dvc", "repro", TARGET], cwd=repo, timeout=1500)
    return repo


#: (stage running, seconds into the repro) of each kill of the fixture's `dvc repro`
KILLS: list[tuple[str, float]] = []
_started: dict[str, float] = {}


def repro_killed_when(repo: Path, log: Path, ready, timeout: float = 900) -> tuple[str, float]:
    """Start `dvc repro TARGET`, SIGKILL it and its stage's process when `ready()` is true; return
    the stage DVC was running and the seconds it had run."""
    import os
    import signal
    import subprocess
    import time

    from conftest import BIN

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with open(log, "a") as out:
        proc = subprocess.Popen(["dvc", "repro", TARGET], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        started = time.time()
        while not ready():
            if proc.poll() is not None or time.time() - started > timeout:
                proc.kill()
                pytest.fail(f"dvc repro ended (or timed out) before the kill point:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    stages = re.findall(r"Running stage '([\w:./@-]+)'", log.read_text())
    return (stages[-1] if stages else "", round(time.time() - started, 1))


def stage_running(repo: Path, script: str, seconds: float) -> bool:
    """Whether a process running `script` in `repo` has been running for `seconds`."""
    import time

    import psutil

    for proc in psutil.process_iter(["cmdline", "cwd", "create_time"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if script in cmdline and proc.info["cwd"] == str(repo):
            return time.time() - proc.info["create_time"] >= seconds
    return False


def logged_epochs(repo: Path) -> int:
    """Epochs the train stage has finished (rows of its training log)."""
    path = repo / "models" / "fer2013" / "train" / "training_log.csv"
    return max(0, len(path.read_text().strip().splitlines()) - 1) if path.is_file() else 0


def test_a_repro_killed_in_fetch_split_and_train_completes_and_resumes_training(pipeline_repo, tmp_path):
    """Each kill landed in its stage; the rerun left no half-made data behind, wrote the data an
    uninterrupted fetch and split write, and continued training at the epoch it had reached (each
    epoch logged once, one epoch in the last process, one MLflow run); every registered version's
    artefacts are complete and `champion` points at one."""
    import hashlib

    assert [stage for stage, _ in KILLS] == ["fetch@fer2013", "split@fer2013", "train@fer2013"], KILLS
    assert not list((pipeline_repo / "data" / "fer2013").glob(".fetch-*")), "the killed fetch's staging folder is gone"
    fresh = copy_project(tmp_path / "fresh")
    (fresh / "params.yaml").write_text((pipeline_repo / "params.yaml").read_text())
    run(["python", "pipelines/fetch.py", "fer2013"], cwd=fresh)
    run(["python", "pipelines/split.py", "fer2013"], cwd=fresh)
    for name in ("train.npz", "val.npz", "test.npz", "manifest.csv"):
        digests = {hashlib.md5((root / "data" / "fer2013" / "processed" / name).read_bytes()).hexdigest()
                   for root in (pipeline_repo, fresh)}
        assert len(digests) == 1, f"{name} differs from an uninterrupted run's"
    log = (pipeline_repo / "models" / "fer2013" / "train" / "training_log.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["0", "1"], "each epoch logged once"
    summary = json.loads((pipeline_repo / "models" / "fer2013" / "train" / "train_summary.json").read_text())
    assert summary["epochs_this_process"] == 1 and summary["epochs"] == 2, "the rerun resumed at the second epoch"
    from emoscan.hardware import has_native_bfloat16

    # the recipe's mixed_precision: auto
    assert summary["precision"] == ("mixed_bfloat16" if has_native_bfloat16() else "float32")
    client = mlflow_client(pipeline_repo)
    runs = client.search_runs([client.get_experiment_by_name("emoscan").experiment_id],
                              filter_string="attributes.run_name LIKE '%2 epochs seed%'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED", "one training run, continued and finished"
    import mlflow

    versions = client.search_model_versions("name='emoscan-fer2013'")
    for version in versions:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/emoscan-fer2013/{version.version}",
                                                         dst_path=str(tmp_path / f"v{version.version}")))
        assert (local / "MLmodel").is_file(), f"version {version.version} is complete"
    champion = client.get_model_version_by_alias("emoscan-fer2013", "champion")
    assert champion.version in {v.version for v in versions}


def mlflow_client(repo: Path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    return mlflow.MlflowClient()


def test_repro_produces_every_output(pipeline_repo):
    repo = pipeline_repo
    for path in ("data/fer2013/processed/train.npz", "data/fer2013/processed/manifest.csv",
                 "reports/fer2013/validation/validation.json", "models/fer2013/train/model.keras",
                 "models/fer2013/train/training_log.csv", "models/fer2013/train/training_plot.png",
                 "reports/fer2013/evaluation/metrics.json", "reports/fer2013/evaluation/confusion_matrix.png",
                 "models/fer2013/export/model.onnx", "models/fer2013/export/model_fp32.onnx",
                 "models/fer2013/export/labels.json", "models/fer2013/export/preprocessing.json",
                 "models/fer2013/export/export_report.json"):
        assert (repo / path).is_file(), path
    assert json.loads((repo / "reports/fer2013/validation/validation.json").read_text())["success"]
    registration = json.loads((repo / "reports/fer2013/registry/registration.json").read_text())
    assert registration["promoted"] and registration["version"] == "1"
    assert registration["onnx_parity"]["max_abs_diff"] < 1e-4
    assert registration["int8"]["val_top1_agreement"] >= 0.95  # SMOKE's export.int8_min_agreement
    int8 = json.loads((repo / "models/fer2013/export/export_report.json").read_text())["int8"]
    assert int8["weights"] == "signed7" and 0 < int8["max_abs_weight"] <= 64
    assert int8["val_fused_exact_agreement"] >= 0.95 and int8["cpu"]  # SMOKE's threshold
    spec = json.loads((repo / "models/fer2013/export/preprocessing.json").read_text())
    assert spec["quantization"] == "int8" and len(spec["class_log_offsets"]) == 7
    metrics = json.loads((repo / "reports/fer2013/evaluation/metrics.json").read_text())
    assert metrics["val_offsets"] == "cross-fitted, mean of 2 halvings"
    status = run(["dvc", "status", "--with-deps", TARGET], cwd=repo).stdout
    assert "up to date" in status, status
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], cwd=repo).stdout)
    assert "accuracy" in json.dumps(metrics) and "macro_f1" in json.dumps(metrics)
    dag = run(["dvc", "dag"], cwd=repo).stdout
    for stage in ("fetch", "split", "validate", "train", "export", "evaluate", "register", "ship"):
        assert f"{stage}@fer2013" in dag and f"{stage}@ferplus" in dag or stage in ("fetch", "split", "validate")
    run(["dvc", "plots", "show", "-o", "plots_html"], cwd=repo)
    assert (repo / "plots_html" / "index.html").is_file()


def test_the_ship_stage_writes_the_bundle_and_a_short_card_where_the_package_loads_it(pipeline_repo):
    dest = pipeline_repo / "src/emoscan/models/emoscan-fer2013"
    for name in ("model.onnx", "labels.json", "preprocessing.json", "export_report.json", "metrics.json",
                 "model_info.json", "confusion_matrix.png", "MODEL_CARD.md"):
        assert (dest / name).is_file(), name
    exported = pipeline_repo / "models/fer2013/export/model.onnx"
    assert (dest / "model.onnx").read_bytes() == exported.read_bytes()
    card, metrics = (dest / "MODEL_CARD.md").read_text(), json.loads((dest / "metrics.json").read_text())
    assert card.startswith("# emoscan-fer2013 v12.1 — model card") and len(card.splitlines()) <= 120
    assert f"| **{metrics['accuracy']:.4f}** | **{metrics['macro_f1']:.4f}** |" in card
    assert "dvc repro ship@fer2013" in card and "## Intended use and limits" in card
    assert "| angry |" in card and "![confusion matrix](confusion_matrix.png)" in card
    photos = metrics["real_photos"]  # evaluate.real_photos: scored end to end, stated on the card
    assert photos["photos"] == 14 and f"Accuracy **{photos['accuracy']:.4f}**" in card
    cost = re.search(r"\| ([\d,]+) \| ([\d.]+) MB \| (\d+)M \| ([\d.]+) \| (.+) \|", card)
    assert cost, card
    assert float(cost[2]) == pytest.approx((dest / "model.onnx").stat().st_size / 1e6, abs=0.006)
    assert int(cost[1].replace(",", "")) > 0 and int(cost[3]) > 0 and float(cost[4]) > 0 and "cores" in cost[5]


def test_mlflow_run_holds_params_metrics_and_artifacts(pipeline_repo):
    client = mlflow_client(pipeline_repo)
    experiment = client.get_experiment_by_name("emoscan")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    data = runs[0].data
    assert data.params["train.architecture"] == "emoscan_vgg"
    for key in ("accuracy", "val_accuracy", "loss", "test_accuracy", "test_macro_f1", "test_plain_f1_happy",
                "val_macro_f1", "best_val_accuracy", "onnx_max_abs_diff", "int8_val_top1_agreement",
                "real_photos_accuracy", "real_photos_macro_f1"):
        assert key in data.metrics, key
    assert len(client.get_metric_history(runs[0].info.run_id, "val_accuracy")) == 2  # two epochs, across the kill
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id)}
    assert {"training_log.csv", "training_plot.png", "tensorboard", "evaluation", "serving", "keras"} <= artifacts
    evaluation = {Path(a.path).name for a in client.list_artifacts(runs[0].info.run_id, "evaluation")}
    assert {"metrics.json", "confusion_matrix.png", "per_class_plain.md"} <= evaluation


def test_only_a_better_model_takes_the_champion_alias(pipeline_repo):
    repo = pipeline_repo
    client = mlflow_client(repo)
    assert str(client.get_model_version_by_alias("emoscan-fer2013", "champion").version) == "1"
    metrics_file = repo / "reports/fer2013/evaluation/metrics.json"
    original = json.loads(metrics_file.read_text())
    try:
        for delta, expected_champion in ((-0.01, "1"), (+0.01, "3")):
            metrics_file.write_text(json.dumps({**original, "val_macro_f1": original["val_macro_f1"] + delta}))
            run(["python", "pipelines/register.py", "fer2013"], cwd=repo)
            assert str(client.get_model_version_by_alias("emoscan-fer2013", "champion").version) == expected_champion
        worse = client.get_model_version("emoscan-fer2013", "2")
        assert float(worse.tags["val_macro_f1"]) < original["val_macro_f1"]
    finally:
        metrics_file.write_text(json.dumps(original))


def test_champion_loads_as_an_mlflow_pyfunc_with_its_signature(pipeline_repo, fer_faces):
    import mlflow
    import numpy as np

    from emoscan import CLASSES
    from emoscan.inference.classifier import EmotionClassifier
    from emoscan.inference.preprocess import normalize

    client = mlflow_client(pipeline_repo)
    version = client.get_model_version_by_alias("emoscan-fer2013", "champion")
    assert "input (N, 48, 48, 1) float32 in [0, 1]" in version.description
    model = mlflow.pyfunc.load_model("models:/emoscan-fer2013@champion")
    (image_spec,), (probs_spec,) = model.metadata.signature.inputs.inputs, model.metadata.signature.outputs.inputs
    assert image_spec.shape == (-1, 48, 48, 1) and probs_spec.shape == (-1, 7)
    faces = normalize(np.stack([face for label in CLASSES for face in fer_faces[label][:2]]))
    probs = model.predict(faces)[probs_spec.name]
    # the registered graph is the bundle's: the serving classifier without TTA and offsets agrees
    served = EmotionClassifier(pipeline_repo / "models/fer2013/export", tta="none", calibrated=False).predict(faces)
    np.testing.assert_allclose(probs / probs.sum(axis=1, keepdims=True), served, atol=1e-5)


def test_champion_imports_into_the_bentoml_store(pipeline_repo, tmp_path):
    env = {"BENTOML_HOME": str(tmp_path / "bentoml")}
    out = run(["emoscan", "import-champion"], cwd=pipeline_repo, env=env).stdout
    assert "emoscan-fer2013:" in out
    listed = run(["bentoml", "models", "list", "-o", "json"], cwd=pipeline_repo, env=env).stdout
    assert "emoscan-fer2013" in listed
    stored = next((tmp_path / "bentoml" / "models" / "emoscan-fer2013").glob("*/model.onnx"))
    assert stored.stat().st_size > 100_000
    # the store is read only when asked: the default stays the shipped model
    which = ("import emoscan; s = emoscan.EmotionRecognizer().source; "
             "print(s.origin, s.name, s.path.name if s.origin == 'shipped' else s.version)")
    assert run(["python", "-c", which], cwd=tmp_path, env={**env, "MODEL_PATH": ""}).stdout.split() == [
        "shipped", "emoscan-fer2013", "emoscan-fer2013"]
    origin, name, version = run(["python", "-c", which], cwd=tmp_path,
                                env={**env, "MODEL_PATH": "champion:emoscan-fer2013"}).stdout.split()
    assert (origin, name) == ("bentoml-store", "emoscan-fer2013") and stored.parent.name == version


def test_bad_params_stop_the_pipeline_with_a_named_key(pipeline_repo):
    params_file = pipeline_repo / "params.yaml"
    original = params_file.read_text()
    try:
        params = with_overrides(yaml.safe_load(original), {"models.fer2013.train.optimizer": "rmsprop-ish"})
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        proc = run(["python", "pipelines/train.py", "fer2013"], cwd=pipeline_repo, check=False)
        assert proc.returncode == 1
        assert "train.optimizer" in proc.stderr and "rmsprop-ish" in proc.stderr and "params.yaml" in proc.stderr
        params = with_overrides(yaml.safe_load(original), {"models.fer2013.train.learning_rat": 0.1})
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        proc = run(["python", "pipelines/train.py", "fer2013"], cwd=pipeline_repo, check=False)
        assert proc.returncode == 1
        assert "models.fer2013.train.learning_rat: unknown key" in proc.stderr and "params.yaml" in proc.stderr
    finally:
        params_file.write_text(original)


def test_serving_preprocessing_matches_keras_on_real_faces(pipeline_repo, media):
    """The service path (detector crop -> shared preprocessing -> ONNX Runtime) gives the Keras outputs:
    exactly through the float32 graph, within int8 error through the served graph and its offsets."""
    import cv2
    import keras
    import numpy as np

    from emoscan.inference.classifier import EmotionClassifier, apply_class_offsets
    from emoscan.inference.detectors import make_detector
    from emoscan.inference.preprocess import faces_to_batch, to_gray

    image = cv2.imread(str(media["three_faces"]))
    boxes = make_detector().detect(image)
    batch = faces_to_batch(to_gray(image), boxes)
    assert batch.shape == (3, 48, 48, 1) and batch.dtype == np.float32 and batch.max() <= 1.0
    keras_model = keras.saving.load_model(pipeline_repo / "models/fer2013/train/model.keras", compile=False)
    plain = np.asarray(keras_model(batch, training=False))
    mirrored = np.asarray(keras_model(batch[:, :, ::-1, :].copy(), training=False))
    expected = (plain + mirrored) / 2  # the bundle serves with flip test-time augmentation
    # the float32 graph, offsets off: the same numbers as Keras
    float_graph = EmotionClassifier(pipeline_repo / "models/fer2013/export/model_fp32.onnx", calibrated=False)
    assert float_graph.tta == "flip"
    np.testing.assert_allclose(float_graph.predict(batch), expected, atol=1e-4)
    # as served: the int8 graph, then the class offsets fitted by the export stage
    served = EmotionClassifier(pipeline_repo / "models/fer2013/export")
    assert served.class_offsets is not None
    np.testing.assert_allclose(served.predict(batch), apply_class_offsets(expected, served.class_offsets), atol=0.03)


# after the tests that count the pipeline's own runs and versions
def test_dvc_plots_render_offline_in_a_real_browser(pipeline_repo, browser):
    """`dvc plots show`'s page (the project's HTML template, Vega inlined) drawn by Chromium with
    every network request refused: the learning curves and the confusion matrix appear, each once."""
    from conftest import SCREENSHOTS

    run(["dvc", "plots", "show", "-o", "plots_offline"], cwd=pipeline_repo)
    html = (pipeline_repo / "plots_offline" / "index.html").read_text()
    assert not re.findall(r"<script[^>]*\bsrc=", html), "no script is loaded from elsewhere"
    page = browser.new_page()
    requested = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else (requested.append(route.request.url), route.abort()))
    page.goto((pipeline_repo / "plots_offline" / "index.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.vega-embed svg, .vega-embed canvas').length >= 3",
                           timeout=30_000)
    for chart in ("Accuracy_per_epoch", "Loss_per_epoch", "Confusion_matrix__test_"):
        # each declared once (a plot file named in a stage and at the top level was drawn twice)
        assert page.locator(f'[id="{chart}"]').count() == 1, chart
        assert page.locator(f'[id="{chart}"] svg, [id="{chart}"] canvas').count() >= 1, f"{chart} is drawn"
    images = [src for src in page.locator("img").evaluate_all("els => els.map(e => e.getAttribute('src'))")]
    assert sum(src.endswith("reports_fer2013_evaluation_confusion_matrix.png") for src in images) == 1, images
    page.screenshot(path=str(SCREENSHOTS / "dvc_plots.png"), full_page=True)
    assert requested == [], f"the page asked the network for {requested}"
    page.close()


@pytest.fixture(scope="module")
def assembled_runs(pipeline_repo) -> list[str]:
    """Two more runs of the train stage on the same inputs (a soup averaged with another network,
    as the default params do, no epochs): the md5 of each model.keras. The experiment then holds
    runs to compare in the MLflow UI whatever other tests ran before."""
    import hashlib

    digests = []
    raw = yaml.safe_load((pipeline_repo / "params.yaml").read_text())
    for out in ("assembled_a", "assembled_b"):  # two more models of params.yaml, trained in their own folders
        raw = with_overrides(raw, {f"models.{out}": raw["models"]["fer2013"]})
        raw = with_overrides(raw, {f"models.{out}.train.epochs": 0, f"models.{out}.train.distill_from": [],
                                   f"models.{out}.train.soup_batchnorm_images": 256,
                                   f"models.{out}.train.ensemble_with": ["models/warm_start/emoscan_vgg_v12_soup_b.keras"]})
    (pipeline_repo / "assembled.yaml").write_text(yaml.safe_dump(raw))
    for out in ("assembled_a", "assembled_b"):
        run(["python", "pipelines/train.py", out, "--params", "assembled.yaml"], cwd=pipeline_repo, timeout=900)
        digests.append(hashlib.md5((pipeline_repo / "models" / out / "train" / "model.keras").read_bytes()).hexdigest())
    return digests


def test_an_assembled_network_is_saved_byte_for_byte_the_same(pipeline_repo, assembled_runs):
    """Two runs of the train stage on the same inputs write the same model.keras bytes, so
    `dvc.lock` stays clean after a repro; and each run gets a name a person can tell apart in MLflow."""
    digests = assembled_runs
    assert digests[0] == digests[1]
    client = mlflow_client(pipeline_repo)
    experiment = client.get_experiment_by_name("emoscan")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    names = [r.info.run_name for r in client.search_runs([experiment.experiment_id])]
    assert sum("emoscan-assembled_" in n and "emoscan_vgg w2 assembled: soup of 3 + 1 averaged" in n for n in names) == 2, names
    assert any("2 epochs seed" in n for n in names), names


def test_mlflow_ui_shows_the_runs_apart_and_the_champion(pipeline_repo, assembled_runs, browser):
    """The MLflow UI over the pipeline's store, as the README describes it: the experiment opens on
    its training runs, whose names tell them apart, two runs side by side in the compare view, and
    the registered model with its `champion` alias."""
    import subprocess

    from conftest import BIN, SCREENSHOTS, free_port, stop_process, wait_until_up

    client = mlflow_client(pipeline_repo)
    experiment = client.get_experiment_by_name("emoscan")
    runs = client.search_runs([experiment.experiment_id], order_by=["start_time ASC"])
    port = free_port()
    server = subprocess.Popen([str(BIN / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{pipeline_repo / 'mlflow.db'}",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=pipeline_repo,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", server, seconds=90)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        mode = "workflowType=machine_learning"
        page.goto(f"{url}/#/experiments/{experiment.experiment_id}/runs?{mode}")
        page.get_by_text(runs[-1].info.run_name).first.wait_for(timeout=60_000)
        for r in runs:
            assert page.get_by_text(r.info.run_name).count() >= 1, r.info.run_name
        page.screenshot(path=str(SCREENSHOTS / "mlflow_runs.png"))
        pair = [r.info.run_id for r in runs[-2:]]
        page.goto(f'{url}/#/compare-runs?runs=["{pair[0]}","{pair[1]}"]&experiments=["{experiment.experiment_id}"]&{mode}')
        page.get_by_text(runs[-1].info.run_name).first.wait_for(timeout=60_000)
        assert page.get_by_text(runs[-2].info.run_name).count() >= 1
        page.screenshot(path=str(SCREENSHOTS / "mlflow_compare.png"), full_page=True)
        page.goto(f"{url}/#/models/emoscan-fer2013?{mode}")
        page.get_by_text("champion").first.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "mlflow_model.png"))
        page.close()
    finally:
        stop_process(server, 30)
