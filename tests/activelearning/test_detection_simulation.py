"""The detection simulator: the worker's detection round (vision_engine.run_round) in a
loop on a YOLO dataset, an oracle answering from its labels. Tiny sizes (16 images at
64 px, 1 epoch): this checks the shape of the result, not what a detector learns."""
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from activelearning import vision_engine
from activelearning.datasets import yolo_data_yaml
from activelearning.simulate import plot_curves, simulate_detection
from activelearning.synthetic_shapes import generate
from annotations.formats.yolo import read_yolo

TRAINING = {"epochs": 1, "imgsz": 64, "batch": 8, "min_labeled": 4, "quality_bar": 0.0}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("shapes") / "set", 16, image_size=64, seed=3)


def test_a_detection_simulation_gives_map_curves_per_strategy(shapes, tmp_path):
    calls = []
    result = simulate_detection(shapes, ["random", "det_least_confident"], initial=4, batch=4, budget=4, seeds=1,
                                training=TRAINING, test_fraction=0.25, work_dir=tmp_path / "work",
                                progress=lambda *args: calls.append(args))
    assert result["config"]["items"] == 16 and result["config"]["detector"] == "yolo_detect"
    assert result["config"]["classes"] == ["circle", "square", "triangle"]
    assert set(result["strategies"]) == {"random", "det_least_confident"}
    for curve in result["strategies"].values():
        assert curve["labels"] == [4, 8]
        for key in ("map50_mean", "map50_std", "map50_95_mean", "map50_95_std"):
            assert len(curve[key]) == 2 and all(0.0 <= value <= 1.0 for value in curve[key])
        assert curve["seconds_per_round"] > 0
        assert len(curve["strategy_used"]) == 1 and len(curve["strategy_used"][0]) == 2
    assert result["strategies"]["det_least_confident"]["strategy_used"][0][0] == "det_least_confident"
    assert calls == [("simulating", 1, 2), ("simulating", 2, 2)]
    json.dumps(result)
    plot_curves(result, str(tmp_path / "curve.png"), metric="map50")
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_below_min_labeled_the_round_chooses_by_diversity_without_training(shapes, tmp_path):
    records = read_yolo(shapes).images
    outcome = vision_engine.run_round(
        records[:3], records[3:12], records[12:], ["circle", "square", "triangle"], "detect", "det_least_confident",
        4, {**TRAINING, "device": "cpu", "weights": ""}, tmp_path, np.random.default_rng(0),
    )
    assert outcome.learner is None and outcome.predictions is None and outcome.metrics == {}
    assert outcome.strategy == "coreset" and "3 of 4 labeled images" in outcome.note
    assert len(outcome.selection.indices) == 4 and len(set(outcome.selection.indices.tolist())) == 4


def test_the_command_dispatches_a_yolo_dataset_to_the_detection_simulator(shapes, tmp_path, monkeypatch):
    seen = {}

    def fake(data_yaml, strategies, **kwargs):
        seen.update(data_yaml=data_yaml, strategies=strategies, **kwargs)
        return {"config": {"detector": "yolo_detect", "items": 16, "seeds": 1},
                "strategies": {"random": {"labels": [4], "map50_mean": [0.0], "map50_std": [0.0],
                                          "seconds_per_round": 1.0}}}

    monkeypatch.setattr("activelearning.management.commands.simulate.simulate_detection", fake)
    out = tmp_path / "result.json"
    call_command("simulate", "--data", str(shapes.parent), "--strategy", "random", "--epochs", "2", "--imgsz", "64",
                 "--initial", "4", "--batch", "4", "--budget", "4", "--seeds", "1", "--out", str(out),
                 "--plot", str(tmp_path / "curve.png"))
    assert seen["data_yaml"] == shapes and seen["strategies"] == ["random"]
    assert seen["training"]["epochs"] == 2 and seen["training"]["imgsz"] == 64
    assert json.loads(out.read_text())["strategies"]["random"]["labels"] == [4]
    assert (tmp_path / "curve.png").exists()


def test_a_yolo_dataset_is_recognised_by_its_yaml_or_folder(shapes, tmp_path):
    assert yolo_data_yaml(shapes) == shapes
    assert yolo_data_yaml(shapes.parent) == shapes
    assert yolo_data_yaml(tmp_path) is None


def test_the_command_refuses_an_unknown_strategy_for_detection(shapes):
    with pytest.raises(CommandError, match="Unknown strategy"):
        call_command("simulate", "--data", str(shapes), "--strategy", "nope")
