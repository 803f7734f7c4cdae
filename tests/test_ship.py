"""The model card's recipe for an assembled model (`train.epochs: 0`), from the networks' provenance files."""

from __future__ import annotations

import json

import keras
import yaml

from emoscan.training.release.ship import assembled_recipe, pipeline_of, ship_command, trained_here_recipe


def write_provenance(path, **fields) -> str:
    path.with_suffix(".json").write_text(json.dumps(fields))
    return str(path)


def test_assembled_card_describes_students_their_distillation_and_their_teachers(tmp_path):
    teacher = write_provenance(tmp_path / "teacher.keras", name="t", role="members", epochs=200, minutes=8.0,
                               device="NVIDIA H200", val_accuracy=0.6774,
                               recipe={"optimizer": "sgd", "learning_rate": 0.04, "batch_size": 128, "seed": 304})
    student = write_provenance(tmp_path / "student.keras", name="s", role="students", epochs=7, minutes=31.0,
                               device="this CPU", val_accuracy=0.69, teachers=[teacher],
                               distill={"alpha": 0.3, "temperature": 2.0, "mode": "online"},
                               recipe={"optimizer": "sgd", "learning_rate": 0.004, "batch_size": 128, "seed": 401,
                                       "init_from": teacher})
    params = yaml.safe_load(open("params.yaml"))
    params["train"].update(init_from=student, ensemble_with=[])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])

    text = assembled_recipe(params, model)
    assert f"`{student}`: sgd lr 0.004" in text and f"from `{teacher}`" in text
    assert "7 epochs in 31.0 min on this CPU" in text
    assert "students were distilled (online" in text and "α=0.3, T=2.0" in text
    assert "average of 1 teachers, each warm-started from one of them" in text
    assert f"`{teacher}`: sgd lr 0.04, batch 128" in text and "on NVIDIA H200 (validation accuracy 0.6774)" in text

    scratch = write_provenance(tmp_path / "scratch.keras", name="s2", role="students", epochs=90, minutes=3.0,
                               device="NVIDIA H200", val_accuracy=0.68, teachers=[teacher],
                               distill={"alpha": 0.3, "temperature": 2.0, "mode": "online"},
                               recipe={"optimizer": "sgd", "learning_rate": 0.02, "batch_size": 128, "seed": 402})
    params["train"].update(init_from=scratch)  # a student trained from random initialisation
    assert "average of 1 teachers (" in assembled_recipe(params, model), "no warm start claimed"

    params["train"].update(init_from=teacher)  # members trained from scratch: no distillation sentence
    plain = assembled_recipe(params, model)
    assert "distilled" not in plain and "200 epochs in 8.0 min on NVIDIA H200" in plain


def test_assembled_card_describes_a_soup_and_each_of_its_ingredients(tmp_path):
    recipe = {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 128, "seed": 504}
    start = write_provenance(tmp_path / "start.keras", name="w", role="members", epochs=80, minutes=4.3,
                             device="NVIDIA H200", val_accuracy=0.6864, recipe=recipe)
    restart = write_provenance(tmp_path / "restart.keras", name="r", role="members", epochs=154, minutes=3.5,
                               device="NVIDIA H200", val_accuracy=0.6906,
                               recipe={**recipe, "optimizer": "sgd", "init_from": start})
    params = yaml.safe_load(open("params.yaml"))
    params["train"].update(init_from=start, soup_with=[restart], ensemble_with=[], soup_batchnorm_images=512)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])

    text = assembled_recipe(params, model)
    assert text.startswith("One `emoscan_vgg` network (35 parameters)")
    assert f"The network is a model soup (`train.soup_with`, `emoscan.training.fit.soup`): the weights of 2 networks" in text
    assert "re-estimated on 512 training images" in text
    assert f"`{start}`: adam lr 0.001" in text and f"`{restart}`: sgd lr 0.001" in text and f"from `{start}`" in text

    params["train"].update(soup_with=[])
    assert "soup" not in assembled_recipe(params, model)


def test_trained_here_card_names_the_warm_start_soup_or_network_and_the_resampling(tmp_path):
    from emoscan.training.release.ship import trained_here_recipe

    start = write_provenance(tmp_path / "start.keras", name="w", role="members", epochs=80, minutes=4.3,
                             device="NVIDIA H200", val_accuracy=0.6864,
                             recipe={"optimizer": "adam", "learning_rate": 0.001, "batch_size": 128, "seed": 504})
    params = yaml.safe_load(open("params.yaml"))
    params["train"].update(init_from=start, soup_with=[str(tmp_path / "restart.keras")], soup_batchnorm_images=512,
                           ensemble_with=[])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])

    souped = trained_here_recipe(params, model, epochs=12)
    assert "12 epochs of" in souped and "one fused affine resampling" in souped
    assert f"started from a model soup (`emoscan.training.fit.soup`): the averaged weights of `{start}` and its 1 warm" in souped
    params["train"].update(soup_with=[])  # one network of the accelerated trainer: its provenance, no crash
    assert f"started from the weights of `{start}`: adam lr 0.001" in trained_here_recipe(params, model, epochs=12)
    params["train"]["augment"]["fused_affine"] = False
    assert "fused" not in trained_here_recipe(params, model, epochs=12)
    # averaged with a soup saved as one network (v12's second soup): described from its provenance
    soup = write_provenance(tmp_path / "soup.keras", name="soup", role="soup", init_from=start,
                            ingredients=[{"path": start, "provenance": None}], soup_batchnorm_images=8192,
                            val_accuracy=0.6993, command=f"python -m emoscan.training.fit.soup soup.keras {start}")
    params["train"]["ensemble_with"] = [soup]
    assert (f"probabilities of the network trained here and of `{soup}`, a model soup (`emoscan.training.fit.soup`"
            in trained_here_recipe(params, model, epochs=12))


def test_assembled_card_describes_a_saved_soup_and_its_ingredients(tmp_path):
    recipe = {"optimizer": "sgd", "learning_rate": 0.01, "batch_size": 128, "seed": 711}
    start = str(tmp_path / "start.keras")
    restart = {"name": "r", "role": "members", "epochs": 76, "minutes": 3.8, "device": "NVIDIA H200",
               "val_accuracy": 0.6941, "recipe": {**recipe, "init_from": start}}
    soup = write_provenance(tmp_path / "soup.keras", name="soup", role="soup", init_from=start,
                            ingredients=[{"path": start, "provenance": None},
                                         {"path": "gone/restart.keras", "provenance": restart}],
                            soup_batchnorm_images=8192, val_accuracy=0.7095,
                            command=f"python -m emoscan.training.fit.soup soup.keras {start} gone/restart.keras")
    params = yaml.safe_load(open("params.yaml"))
    params["train"].update(init_from=soup, soup_with=[], ensemble_with=[])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])

    text = assembled_recipe(params, model)
    assert f"`{soup}`, a model soup (`emoscan.training.fit.soup`, saved by `python -m emoscan.training.fit.soup soup.keras" in text
    assert f"the weights of 2 networks sharing the starting point `{start}` averaged" in text
    assert "re-estimated on 8192 training images (validation accuracy 0.7095)" in text
    assert f"Its ingredients: `{start}`; `gone/restart.keras`: sgd lr 0.01, batch 128" in text
    assert "seed 711, from `" in text and "76 epochs in 3.8 min on NVIDIA H200 (validation accuracy 0.6941)" in text


def test_a_card_trained_here_names_its_teachers_and_how_to_reproduce_its_pipeline():
    params = yaml.safe_load(open("params.yaml"))
    params["train"].update(epochs=15, init_from="", distill_from=["models/train/model.keras"], distill_alpha=0.3,
                           distill_temperature=2.0, ensemble_with=[])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])
    text = trained_here_recipe(params, model, 15, "mixed_bfloat16")
    assert "15 epochs of adam" in text and "mixed bfloat16 compute" in text
    assert "the labels (weight 0.3) mixed with the flip-averaged probabilities of `models/train/model.keras`" in text
    assert "temperature 2.0" in text
    params["train"]["distill_from"] = []
    assert "distillation" not in trained_here_recipe(params, model, 15)
    assert pipeline_of("fast/params.yaml") == "fast/dvc.yaml" and pipeline_of("params.yaml") == "dvc.yaml"
    assert ship_command("params.yaml", "src/emoscan/models/emoscan-fer2013") == "python -m emoscan.training.release.ship"
    assert ship_command("fast/params.yaml", "src/emoscan/models/emoscan-fer2013-fast") == (
        "python -m emoscan.training.release.ship --params fast/params.yaml --dest src/emoscan/models/emoscan-fer2013-fast")
