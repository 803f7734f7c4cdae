"""emoscan.settings: the one reader of params.yaml (typed run-time sections, the pipeline's dict)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import emoscan.settings as settings_module
from conftest import REPO
from emoscan.settings import ParamsError, Settings, load_params, load_settings, params_path, with_overrides


def test_the_project_params_are_valid_for_every_part_and_repeat_the_defaults_in_code():
    settings = load_settings(REPO / "params.yaml")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert settings.inference.model_dump() == raw["inference"]
    assert settings.service.model_dump() == raw["service"]
    assert settings.batch.model_dump() == raw["batch"]
    ferplus = load_params(REPO / "params.yaml", model="ferplus")  # one model over its dataset
    assert ferplus["inference"] == raw["inference"] and len(ferplus["classes"]) == 8
    assert ferplus["train"]["init_from"].endswith("emoscan_ferplus_v3_soup.keras")
    assert ferplus["split"]["output_dir"] == "data/ferplus/processed" and ferplus["register"]["model_name"] == "emoscan-ferplus"
    # an installed package (no params file) behaves as the checkout does
    assert Settings().model_dump() == {name: raw[name] for name in ("inference", "service", "batch")}


@pytest.mark.parametrize("section, key, value, message", [
    ("inference", "min_face_size", "24", "inference.min_face_size: expected a whole number, got '24'"),
    ("inference", "min_face_size", True, "inference.min_face_size: expected a whole number"),
    ("inference", "score_threshold", 1.5, "inference.score_threshold: expected a number of at most 1"),
    ("inference", "detector", "haar", "inference.detector: expected one of"),
    ("inference", "colour", True, "inference.colour: unknown key"),
    ("service", "rate_limit_storage", "redis", "service.rate_limit_storage: expected a storage URI"),
    ("batch", "output_format", "xlsx", "batch.output_format: expected one of"),
    ("batch", "files_per_task", 0, "batch.files_per_task: expected a number above 0"),
])
def test_a_bad_value_names_its_key(tmp_path: Path, section: str, key: str, value, message: str):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params[section][key] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=message.replace(".", r"\.")):
        load_settings(tmp_path / "params.yaml")


def test_a_params_file_overrides_only_the_keys_it_names(tmp_path: Path):
    (tmp_path / "mine.yaml").write_text("service: {max_image_mb: 2}\ninference: {detector: yunet_n}\n")
    settings = load_settings(tmp_path / "mine.yaml")
    assert settings.service.max_image_mb == 2 and settings.inference.detector == "yunet_n"
    assert settings.service.max_video_mb == Settings().service.max_video_mb and settings.batch == Settings().batch
    (tmp_path / "pipeline_only.yaml").write_text("train: {epochs: 3}\n")
    assert load_settings(tmp_path / "pipeline_only.yaml") == Settings()


def test_a_bad_value_names_the_file_it_came_from(tmp_path: Path):
    (tmp_path / "mine.yaml").write_text("service: {max_image_mb: lots}\n")
    with pytest.raises(ParamsError, match=r"^service\.max_image_mb: expected a number, got 'lots' \(.*mine\.yaml\)$"):
        load_settings(tmp_path / "mine.yaml")


def test_overrides_are_checked_and_settings_are_frozen():
    inference = load_settings().inference
    assert with_overrides(inference, {"min_face_size": 40}, "settings").min_face_size == 40
    with pytest.raises(ParamsError, match=r"settings\.max_faces: expected a number of at least 0"):
        with_overrides(inference, {"max_faces": -1}, "settings")
    with pytest.raises(Exception):
        inference.min_face_size = 1  # type: ignore[misc]


def test_which_file_env_then_checkout_else_the_defaults_in_code(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("EMOSCAN_PARAMS", raising=False)
    assert params_path() == REPO / "params.yaml"
    monkeypatch.setattr(settings_module, "CHECKOUT", False)  # an installed package: no params file
    assert params_path() is None
    assert load_settings() == Settings()
    monkeypatch.setenv("EMOSCAN_PARAMS", str(tmp_path / "mine.yaml"))
    assert params_path() == tmp_path / "mine.yaml"
    with pytest.raises(ParamsError, match="params file not found"):
        load_settings()
