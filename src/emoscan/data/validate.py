"""Validate stage: a Great Expectations (1.x) suite over the split manifest.

Two batches are validated:
- the manifest itself (one row per image): labels, decoding, shape, channels, test/train leaks;
- the class table (one row per split and class): share of each class against the expected
  distribution in params.yaml, and a minimum count per class.
Results are saved as JSON and as GX Data Docs (HTML); a failure raises `DataValidationError`
with one readable line per failed expectation.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.checkpoint import UpdateDataDocsAction

from emoscan.labels import CLASSES
from emoscan.settings import require

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["path"],
                 "partial_unexpected_count": 5}


class DataValidationError(RuntimeError):
    """The dataset failed its expectations; the message lists each failure."""


def check_validate_params(cfg: dict) -> None:
    """Validate the validate section of params.yaml."""
    dist = require(cfg, "expected_distribution", dict, where="validate")
    if sorted(dist) != sorted(CLASSES):
        raise ValueError(f"validate.expected_distribution: expected keys {list(CLASSES)}, got {sorted(dist)}")
    if abs(sum(dist.values()) - 1.0) > 0.02:
        raise ValueError(f"validate.expected_distribution: shares must sum to 1, got {sum(dist.values()):.3f}")
    require(cfg, "distribution_tolerance", float, where="validate", low=0.0, high=1.0)
    require(cfg, "min_count_per_class", int, where="validate", low=0)
    require(cfg, "report_dir", str, where="validate")


def manifest_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest plus `test_image_in_train`: a test image whose pixels are also in train/val."""
    table = manifest.copy()
    seen_in_training = set(table.loc[table["split"].isin(["train", "val"]), "hash"].dropna())
    table["test_image_in_train"] = (table["split"] == "test") & table["hash"].isin(seen_in_training)
    return table


def class_table(manifest: pd.DataFrame, expected: dict[str, float]) -> pd.DataFrame:
    """One row per (split, class) with count, share and deviation from the expected share."""
    rows = []
    usable = manifest[manifest["decodes"].astype(bool)]
    for split in SPLITS:
        part = usable[usable["split"] == split]
        counts = part["label"].value_counts()
        for label in CLASSES:
            count = int(counts.get(label, 0))
            share = count / len(part) if len(part) else 0.0
            rows.append({"path": f"{split}/{label}", "split": split, "label": label, "count": count,
                         "share": share, "deviation": share - expected[label]})
    return pd.DataFrame(rows)


def manifest_suite() -> gx.ExpectationSuite:
    """Per-image expectations."""
    suite = gx.ExpectationSuite(name="fer2013_images")
    for expectation in (
        gxe.ExpectColumnDistinctValuesToEqualSet(column="label", value_set=list(CLASSES)),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=[*SPLITS, "dropped"]),
        gxe.ExpectColumnValuesToBeInSet(column="decodes", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="height", min_value=48, max_value=48),
        gxe.ExpectColumnValuesToBeBetween(column="width", min_value=48, max_value=48),
        gxe.ExpectColumnValuesToBeInSet(column="channels", value_set=[1]),
        gxe.ExpectColumnValuesToBeInSet(column="test_image_in_train", value_set=[False]),
    ):
        suite.add_expectation(expectation)
    return suite


def class_suite(tolerance: float, min_count: int) -> gx.ExpectationSuite:
    """Per-class expectations: distribution within tolerance, a minimum count, all 21 rows."""
    suite = gx.ExpectationSuite(name="fer2013_classes")
    for expectation in (
        gxe.ExpectTableRowCountToEqual(value=len(SPLITS) * len(CLASSES)),
        gxe.ExpectColumnValuesToBeBetween(column="deviation", min_value=-tolerance, max_value=tolerance),
        gxe.ExpectColumnValuesToBeBetween(column="count", min_value=min_count),
    ):
        suite.add_expectation(expectation)
    return suite


def describe_failure(result) -> str:
    """One readable line for a failed expectation, naming the offending rows."""
    config = result.expectation_config
    column = config.kwargs.get("column", "table")
    details = result.result or {}
    rows = [r.get("path") for r in details.get("unexpected_index_list") or [] if isinstance(r, dict)]
    shown = ", ".join(map(str, rows[:5])) or ", ".join(map(str, details.get("partial_unexpected_list", [])[:5]))
    count = details.get("unexpected_count", details.get("observed_value", ""))
    more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
    return f"{config.type} on '{column}': {count} unexpected: {shown}{more}"


def validate(manifest_csv: Path, cfg: dict) -> dict:
    """Run the suites, write `validation.json` and Data Docs under `report_dir`; raise on failure."""
    check_validate_params(cfg)
    manifest = pd.read_csv(manifest_csv)
    return run_suites(lambda: {
        "images": (manifest_table(manifest), manifest_suite()),
        "classes": (class_table(manifest, cfg["expected_distribution"]),
                    class_suite(cfg["distribution_tolerance"], cfg["min_count_per_class"])),
    }, Path(cfg["report_dir"]), "FER-2013")


def vote_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """FER+'s manifest with each image's vote total, its emotion votes, whether it is kept without
    an emotion vote, and whether a validation image's pixels are also in train."""
    from emoscan.data.ferplus import CLASS_COLUMN, VOTE_COLUMNS

    table = manifest.copy()
    table["votes_total"] = table[list(VOTE_COLUMNS)].sum(axis=1)
    table["emotion_votes"] = table[list(CLASS_COLUMN.values())].sum(axis=1)
    table["kept_without_emotion_vote"] = table["label"].notna() & (table["emotion_votes"] == 0)
    in_train = set(table.loc[table["split"] == "train", "hash"])
    table["val_image_in_train"] = (table["split"] == "val") & table["hash"].isin(in_train)
    return table


def vote_suite(classes: list[str]) -> gx.ExpectationSuite:
    """FER+'s per-image expectations: ten vote columns of counts 0-10 summing to at most 10, a
    majority label among the classes (all of them present), at least one emotion vote for every
    image kept, no validation image in train."""
    from emoscan.data.ferplus import VOTE_COLUMNS

    suite = gx.ExpectationSuite(name="ferplus_votes")
    for column in VOTE_COLUMNS:
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=10))
    for expectation in (
        gxe.ExpectColumnValuesToBeBetween(column="votes_total", min_value=1, max_value=10),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "val", "dropped"]),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=classes),
        gxe.ExpectColumnDistinctValuesToContainSet(column="label", value_set=classes),
        gxe.ExpectColumnValuesToBeInSet(column="kept_without_emotion_vote", value_set=[False]),
        gxe.ExpectColumnValuesToBeInSet(column="val_image_in_train", value_set=[False]),
    ):
        suite.add_expectation(expectation)
    return suite


def validate_votes(manifest_csv: Path, cfg: dict, classes: list[str]) -> dict:
    """The validate stage for FER+: `vote_suite` over the split manifest (Data Docs and
    validation.json under `report_dir`); DataValidationError naming the images on failure."""
    require(cfg, "report_dir", str, where="validate")
    manifest = pd.read_csv(manifest_csv)
    return run_suites(lambda: {"votes": (vote_table(manifest), vote_suite(list(classes)))},
                      Path(cfg["report_dir"]), "FER+")


def run_suites(batches: Callable[[], dict[str, tuple[pd.DataFrame, gx.ExpectationSuite]]], report_dir: Path,
               title: str) -> dict:
    """Validate each (table, suite) batch that `batches()` builds (once the file-based GX context
    under `report_dir` exists: GX suites need one), write validation.json and Data Docs there;
    DataValidationError with one line per failure."""
    shutil.rmtree(report_dir / "gx", ignore_errors=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(report_dir))
    source = context.data_sources.add_pandas(title.lower().replace("-", "").replace("+", "plus"))
    summary: dict = {"success": True, "failures": [], "statistics": {}}
    for name, (frame, suite) in batches().items():
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=context.suites.add(suite)))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{name}_checkpoint", validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs")], result_format=RESULT_FORMAT))
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        for run_result in result.run_results.values():
            summary["statistics"][name] = run_result.statistics
            for item in run_result.results:
                if not item.success:
                    summary["failures"].append(describe_failure(item))
        summary["success"] &= bool(result.success)

    docs = report_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    summary["data_docs"] = str(docs)
    (report_dir / "validation.json").write_text(json.dumps(summary, indent=2, default=str))
    if not summary["success"]:
        raise DataValidationError(f"{title} failed validation:\n  - " + "\n  - ".join(summary["failures"])
                                  + f"\nFull report: {docs}")
    return summary
