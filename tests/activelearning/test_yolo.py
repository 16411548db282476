"""The offline YOLO learner: with every socket call refused and recorded, import
ultralytics, train one epoch of the smallest detector and segmenter on 8 synthetic
images, evaluate and predict; not one network attempt may happen.

Training runs once per module (about 15-25 s on 2 CPU cores for both tasks)."""
import importlib.util
import math
import random
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from activelearning.learners import DETECTORS, YoloLearner
from activelearning.learners.yolo import DEFAULT_MODELS, configure_offline
from activelearning.synthetic_shapes import generate

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None, reason="ultralytics not installed")

IMGSZ = 64
CONF = 1e-4  # after one epoch every confidence is tiny: keep them so the output has objects to check


class NetworkGuard:
    """Replaces the socket entry points that name resolution and connections go through."""

    NAMES = ("getaddrinfo", "gethostbyname", "create_connection")

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.attempts: list[str] = []
        for name in self.NAMES:
            monkeypatch.setattr(socket, name, self._refuse(name))
        for name in ("connect", "connect_ex"):
            monkeypatch.setattr(socket.socket, name, self._refuse(f"socket.{name}"))

    def _refuse(self, name: str):
        def refuse(*args, **kwargs):
            self.attempts.append(f"{name}{args[:2]!r}")
            raise OSError(f"network disabled in this test ({name})")

        return refuse


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """The guard is up before ultralytics is imported and stays up for the module."""
    with pytest.MonkeyPatch.context() as patch:
        guard = NetworkGuard(patch)
        guard.config_dir = configure_offline(tmp_path_factory.mktemp("ultralytics-config"))
        yield guard


def _trained(offline, tmp_path_factory, task: str):
    root = tmp_path_factory.mktemp(f"yolo-{task}")
    data = generate(root / "data", 8, image_size=IMGSZ, task=task, seed=0)
    learner = YoloLearner(task=task, epochs=1, imgsz=IMGSZ, batch=4, run_dir=root / "runs").fit(data)
    images = sorted((root / "data" / "images").rglob("*.png"))
    return learner, data, images


def test_training_leaves_the_process_random_generators_alone(offline, tmp_path):
    data = generate(tmp_path / "data", 4, image_size=32, seed=1)
    random.seed(7), np.random.seed(7)
    expected = (random.random(), np.random.random())
    random.seed(7), np.random.seed(7)
    learner = YoloLearner(epochs=1, imgsz=32, batch=4, run_dir=tmp_path / "runs").fit(data)
    learner.predict(sorted((tmp_path / "data" / "images").rglob("*.png")))
    assert (random.random(), np.random.random()) == expected


@pytest.fixture(scope="module")
def detector(offline, tmp_path_factory):
    return _trained(offline, tmp_path_factory, "detect")


@pytest.fixture(scope="module")
def segmenter(offline, tmp_path_factory):
    return _trained(offline, tmp_path_factory, "segment")


def _check_object(obj: dict, n_classes: int) -> None:
    assert isinstance(obj["label"], int) and 0 <= obj["label"] < n_classes
    assert 0 <= obj["confidence"] <= 1
    x, y, w, h = obj["box"]
    assert len(obj["box"]) == 4 and all(isinstance(v, float) for v in obj["box"])
    assert 0 <= x <= 1 and 0 <= y <= 1 and w >= 0 and h >= 0
    assert x + w <= 1 + 1e-6 and y + h <= 1 + 1e-6


def test_train_evaluate_and_predict_make_no_network_attempt(offline, detector, segmenter):
    for learner, data, images in (detector, segmenter):
        learner.evaluate(data)
        learner.predict(images[:2], conf=CONF)
    assert offline.attempts == []
    assert (offline.config_dir / "Ultralytics" / "Arial.ttf").is_file()
    assert (offline.config_dir / "Ultralytics" / "Arial.Unicode.ttf").is_file()
    settings = sys.modules["ultralytics"].settings  # ruff keeps `import ultralytics` inside the learners
    assert settings["sync"] is False and settings["api_key"] == ""
    assert not any(settings[key] for key in ("clearml", "comet", "dvc", "mlflow", "wandb", "tensorboard"))
    # The guard is in place (a fresh process checks the import itself, below).
    with pytest.raises(OSError, match="network disabled"):
        socket.create_connection(("one.one.one.one", 53))


def test_detector_predictions_have_the_documented_shape(detector):
    learner, _, images = detector
    predictions = learner.predict(images, batch=3, conf=CONF, max_det=5)
    assert len(predictions) == len(images)
    assert any(predictions), "one epoch should still give low-confidence boxes"
    for objects in predictions:
        assert len(objects) <= 5
        for obj in objects:
            assert set(obj) == {"label", "confidence", "box"}
            _check_object(obj, 3)


def test_predictions_follow_the_order_of_the_images_across_batches(detector):
    learner, _, images = detector
    forward = learner.predict(images, batch=3, conf=CONF, max_det=3)
    backward = learner.predict(images[::-1], batch=5, conf=CONF, max_det=3)[::-1]
    for ahead, behind in zip(forward, backward):
        assert [o["label"] for o in ahead] == [o["label"] for o in behind]
        assert all(math.isclose(a["confidence"], b["confidence"], rel_tol=1e-3, abs_tol=1e-6)
                   for a, b in zip(ahead, behind))


def test_evaluate_returns_the_box_metrics(detector):
    learner, data, _ = detector
    metrics = learner.evaluate(data)
    assert set(metrics) == {"precision", "recall", "mAP50", "mAP50-95"}
    assert all(0 <= value <= 1 for value in metrics.values())


def test_the_fitted_learner_keeps_its_weights_and_names(detector):
    learner, _, _ = detector
    assert learner.weights_.name in ("best.pt", "last.pt") and learner.weights_.is_file()
    assert learner.names_ == {0: "circle", 1: "square", 2: "triangle"}
    assert learner.fit_seconds_ > 0


def test_saved_weights_load_into_a_new_learner_and_predict_the_same(detector, tmp_path):
    learner, _, images = detector
    saved = learner.save(tmp_path / "models" / "detector.pt")
    again = YoloLearner(task="detect", imgsz=IMGSZ).load(saved)
    first, second = learner.predict(images[:3], conf=CONF), again.predict(images[:3], conf=CONF)
    assert [[o["label"] for o in objs] for objs in first] == [[o["label"] for o in objs] for objs in second]
    with pytest.raises(ValueError, match="holds a 'detect' model"):
        YoloLearner(task="segment").load(saved)


def test_segmenter_predictions_carry_polygons_and_mask_quality(segmenter):
    learner, data, images = segmenter
    predictions = learner.predict(images, batch=4, conf=CONF, max_det=4)
    assert len(predictions) == len(images) and any(predictions)
    for objects in predictions:
        for obj in objects:
            assert set(obj) == {"label", "confidence", "box", "polygons", "mask_quality"}
            _check_object(obj, 3)
            assert 0 <= obj["mask_quality"] <= 1
            for polygon in obj["polygons"]:
                assert len(polygon) >= 6 and len(polygon) % 2 == 0
                assert all(0 <= v <= 1 for v in polygon)
    metrics = learner.evaluate(data)
    assert {"mAP50", "mask_mAP50", "mask_mAP50-95", "mask_precision", "mask_recall"} <= set(metrics)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"weights": "yolo26n.pt"}, "existing .pt file"),  # a bare name would be downloaded
        ({"model": "yolo26n.pt"}, "yaml architecture"),
        ({"task": "pose"}, "task must be one of"),
    ],
)
def test_sources_that_could_download_are_refused_before_anything_runs(kwargs, words, tmp_path):
    with pytest.raises(ValueError, match=words):
        YoloLearner(**kwargs).fit(generate(tmp_path, 2, image_size=32))


def test_unfitted_learners_say_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        YoloLearner().predict([])


def test_the_detector_registry_names_shipped_architectures():
    assert set(DETECTORS) == {"yolo_detect", "yolo_segment"}
    for key, spec in DETECTORS.items():
        assert spec.key == key and spec.label and spec.description
        assert spec.model == DEFAULT_MODELS[spec.task]
        assert isinstance(spec.build(random_state=1), YoloLearner)


IMPORT_AND_TRAIN_WITHOUT_NETWORK = """
import socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args[:1])
    raise OSError("network disabled")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from pathlib import Path
from activelearning.learners.yolo import YoloLearner, configure_offline
from activelearning.synthetic_shapes import generate
root = Path(sys.argv[1])
configure_offline(root / "config")
data = generate(root / "data", 4, image_size=32, seed=2)
learner = YoloLearner(epochs=1, imgsz=32, batch=4, run_dir=root / "runs").fit(data)
learner.predict(sorted((root / "data" / "images").rglob("*.png"))[:2])
print("ATTEMPTS", len(attempts))
"""


def test_a_fresh_process_imports_trains_and_predicts_without_touching_the_network(tmp_path):
    """In its own process, so ultralytics is imported behind the guard whatever other
    tests imported before."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_TRAIN_WITHOUT_NETWORK, str(tmp_path)],
        capture_output=True, text=True, timeout=240, cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ATTEMPTS 0" in result.stdout


def test_after_ultralytics_is_configured_pillow_still_refuses_a_non_image_plainly(offline):
    import io

    from PIL import Image, UnidentifiedImageError

    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"plain text, not an image"))
