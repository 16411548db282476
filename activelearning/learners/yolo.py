"""YOLO detection and segmentation (ultralytics), trained and run fully offline.

Left alone, ultralytics looks up public DNS hosts when imported, downloads the Arial
font on every train/val, sends usage events, and downloads weights whenever a model is
named by a bare `.pt` name. `configure_offline()` closes every one of those doors and
must run before ultralytics is imported: this module imports ultralytics only inside
functions, after calling it. Models are built from the yaml files that ship inside the
ultralytics package, or loaded from a `.pt` file that exists on disk (an admin upload);
a name that would trigger a download is refused.

`YoloLearner` does not follow the scikit-learn contract of the other learners (its
training data is a YOLO data.yaml on disk, not an X, y pair), which is why it has its own
registry (`DETECTORS` in learners/__init__.py) rather than a `LEARNERS` entry. It keeps
the parts of that contract that fit: `__init__` stores parameters, `fit` returns self,
learned attributes end in `_`, randomness comes from `random_state`.
"""
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

TASKS = ("detect", "segment")
# Measured on 2 CPU cores, 200 synthetic images at 160 px, 30 epochs from scratch: yolov8n
# reached box mAP50 0.86 in 172 s where yolo26n reached 0.76 in 306 s; yolov8n-seg mask
# mAP50 0.90 where yolo26n-seg reached 0.74. The yolo26 and yolo11 yamls work as well.
DEFAULT_MODELS = {"detect": "yolov8n.yaml", "segment": "yolov8n-seg.yaml"}
INTEGRATIONS = ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb")
FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
BOX_METRICS = {"precision": "mp", "recall": "mr", "mAP50": "map50", "mAP50-95": "map"}

_lock = threading.RLock()
_configured: Path | None = None
logger = logging.getLogger(__name__)


def default_config_dir() -> Path:
    """var/ultralytics of the app (LABELER_VAR_DIR when set, as in the settings)."""
    var = os.environ.get("LABELER_VAR_DIR") or Path(__file__).resolve().parents[2] / "var"
    return Path(var).resolve() / "ultralytics"


def configure_offline(config_dir: str | Path | None = None) -> Path:
    """Make ultralytics work without the network; return the directory it keeps its settings in.

    Before the first import of ultralytics: YOLO_OFFLINE=1 (no DNS look-ups, no
    events), YOLO_AUTOINSTALL=0 (no pip), YOLO_CONFIG_DIR=`config_dir` (default
    var/ultralytics), YOLO_VERBOSE=False unless set; matplotlib's DejaVuSans.ttf is
    copied to `<config_dir>/Ultralytics/` as Arial.ttf and Arial.Unicode.ttf so no font
    is downloaded. After the import: settings sync off, no API key, every integration
    off, runs/weights/datasets folders inside the config dir (not the working directory).

    Idempotent. ultralytics fixes its config dir when first imported, so later calls
    with another `config_dir` keep the first one (and say so in the log). Raises
    RuntimeError if ultralytics was imported before, without the offline environment.
    """
    global _configured
    with _lock:
        if _configured is None:
            if "ultralytics" in sys.modules and os.environ.get("YOLO_OFFLINE") != "1":
                raise RuntimeError("ultralytics was imported before configure_offline(): it has already "
                                   "decided it is online; call configure_offline() first")
            root = Path(config_dir).resolve() if config_dir else default_config_dir()
            os.environ["YOLO_OFFLINE"] = "1"
            os.environ["YOLO_AUTOINSTALL"] = "0"
            os.environ["YOLO_CONFIG_DIR"] = str(root)
            os.environ.setdefault("YOLO_VERBOSE", "False")
            # The trainer's Platform callback uploads when it finds a key: offline, there is none.
            os.environ.pop("ULTRALYTICS_API_KEY", None)
            _install_fonts(root / "Ultralytics")
            # ultralytics sets OMP_NUM_THREADS=1 when it is unset, and that is kept on
            # purpose: with two OpenMP threads on 2 cores shared with another busy process,
            # prediction measured 10x slower (9.5 instead of 104 images/s at 160 px).
            import ultralytics
            from ultralytics.utils import USER_CONFIG_DIR

            user_dir = Path(USER_CONFIG_DIR)
            _install_fonts(user_dir)  # the same folder unless ultralytics fell back to a temporary one
            ultralytics.settings.update(
                sync=False, api_key="", **dict.fromkeys(INTEGRATIONS, False),
                runs_dir=str(root / "runs"), weights_dir=str(root / "weights"), datasets_dir=str(root / "datasets"),
            )
            _keep_pillow_plain()
            _configured = root
        elif config_dir and Path(config_dir).resolve() != _configured:
            logger.info("ultralytics already configured in %s; keeping it (asked for %s)", _configured, config_dir)
        return _configured


def _keep_pillow_plain() -> None:
    """ultralytics replaces PIL.Image.open process-wide with a version that, on the first
    file Pillow cannot identify, tries to pip-install a HEIF plugin. In this process the
    web server decodes uploads too, and a text file refused as "not an image" must stay a
    plain UnidentifiedImageError: mark the plugin step as done so the patch passes through."""
    from ultralytics.utils import patches

    patches._pil_plugins_registered = True


def _install_fonts(folder: Path) -> None:
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    folder.mkdir(parents=True, exist_ok=True)
    for name in FONT_NAMES:
        target = folder / name
        if not target.exists():
            shutil.copyfile(source, target)


@contextlib.contextmanager
def _process_state_kept():
    """ultralytics seeds Python's, numpy's and torch's global generators, turns on torch's
    deterministic algorithms and sets torch's thread count for the whole process; put all
    of it back afterwards so that the other learners of a worker see no difference."""
    import random

    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn_deterministic = torch.backends.cudnn.deterministic
    fill_memory = torch.utils.deterministic.fill_uninitialized_memory
    environment = {key: os.environ.get(key) for key in ("CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED")}
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.utils.deterministic.fill_uninitialized_memory = fill_memory
        for key, value in environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_model_source(task: str, model: str | None, weights: str | Path | None) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if weights is not None:
        path = Path(weights)
        if path.suffix != ".pt" or not path.is_file():
            # A bare "yolo26n.pt" that is not on disk would make ultralytics download it.
            raise ValueError(f"weights must be an existing .pt file, got {str(weights)!r}")
    elif model is not None and not str(model).endswith((".yaml", ".yml")):
        raise ValueError(f"model must be a .yaml architecture (e.g. {DEFAULT_MODELS[task]}), got {model!r}; "
                         "pass trained weights as `weights=` (a .pt file on disk)")


class YoloLearner:
    """Train, evaluate and run a YOLO detector or segmenter on the CPU or a GPU, offline.

    `model` is an architecture yaml shipped with ultralytics (`yolov8n.yaml`,
    `yolov8n-seg.yaml` by default; `yolo11n.yaml`, `yolo26n.yaml`, `yolo26n-seg.yaml`, ...),
    trained from scratch; `weights` is an existing `.pt` file to start from instead (fine-tuning).
    Runs go to `run_dir/name` (a new temporary folder when `run_dir` is None).
    `config_dir` is passed to `configure_offline`.

    Learned attributes: `model_` (the ultralytics model, best weights), `weights_` (path
    of best.pt), `names_` (class index -> name), `run_dir_`, `fit_seconds_`.
    """

    def __init__(self, task: str = "detect", model: str | None = None, weights: str | Path | None = None,
                 epochs: int = 30, imgsz: int = 160, batch: int = 16, device: str = "cpu", random_state: int = 0,
                 run_dir: str | Path | None = None, name: str = "train", patience: int = 100,
                 config_dir: str | Path | None = None):
        self.task = task
        self.model = model
        self.weights = weights
        self.epochs = epochs
        self.imgsz = imgsz
        self.batch = batch
        self.device = device
        self.random_state = random_state
        self.run_dir = run_dir
        self.name = name
        self.patience = patience
        self.config_dir = config_dir

    # -- set-up ---------------------------------------------------------------------

    def _yolo(self, source: str | Path):
        configure_offline(self.config_dir)
        from ultralytics import YOLO

        with _process_state_kept():  # building from a yaml draws initial weights
            return YOLO(str(source), task=self.task)

    def _initial_model(self):
        _check_model_source(self.task, self.model, self.weights)
        return self._yolo(self.weights if self.weights is not None else (self.model or DEFAULT_MODELS[self.task]))

    def _fitted(self):
        if getattr(self, "model_", None) is None:
            raise RuntimeError("this YoloLearner is not fitted yet: call fit() or load() first")
        return self.model_

    def _common(self) -> dict[str, Any]:
        return {"imgsz": int(self.imgsz), "device": self.device, "verbose": False}

    # -- training and evaluation ----------------------------------------------------

    def fit(self, data_yaml: str | Path) -> Self:
        """Train on the YOLO data.yaml (it must have no `download:` key); keep the best weights."""
        data_yaml = Path(data_yaml).resolve()
        if not data_yaml.is_file():
            raise FileNotFoundError(f"no data yaml at {data_yaml}")
        model = self._initial_model()
        run_dir = Path(self.run_dir) if self.run_dir is not None else Path(tempfile.mkdtemp(prefix="yolo-run-"))
        run_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with _process_state_kept():
            model.train(
                data=str(data_yaml), epochs=int(self.epochs), batch=int(self.batch), workers=0, amp=False,
                plots=False, val=True, project=str(run_dir.resolve()), name=self.name, exist_ok=True,
                seed=int(self.random_state), deterministic=True, patience=int(self.patience),
                # From a yaml nothing is pretrained; from a .pt the loaded weights are the start.
                pretrained=self.weights is not None, **self._common(),
            )
        trainer = model.trainer
        best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
        self.fit_seconds_ = time.perf_counter() - started
        self.run_dir_ = Path(trainer.save_dir)
        self.weights_ = best
        self.model_ = self._yolo(best)
        self.names_ = dict(self.model_.names)
        return self

    def evaluate(self, data_yaml: str | Path, split: str = "val") -> dict[str, float]:
        """precision, recall, mAP50 and mAP50-95 of the boxes on a split of the data yaml;
        for segmentation also mask_precision, mask_recall, mask_mAP50, mask_mAP50-95."""
        model = self._fitted()
        run_dir = getattr(self, "run_dir_", None) or Path(tempfile.mkdtemp(prefix="yolo-val-"))
        with _process_state_kept():
            metrics = model.val(
                data=str(Path(data_yaml).resolve()), split=split, batch=int(self.batch), workers=0, plots=False,
                project=str(Path(run_dir).resolve()), name="val", exist_ok=True, save_json=False, **self._common(),
            )
        out = {key: float(getattr(metrics.box, attr)) for key, attr in BOX_METRICS.items()}
        if self.task == "segment":
            out.update({f"mask_{key}": float(getattr(metrics.seg, attr)) for key, attr in BOX_METRICS.items()})
        return out

    # -- prediction -----------------------------------------------------------------

    def predict(self, image_paths: Sequence[str | Path], batch: int = 16, conf: float = 0.01,
                max_det: int = 100) -> list[list[dict]]:
        """Per image, its objects: {"label": class index, "confidence", "box": [x, y, w, h]
        normalised with (x, y) the top-left corner}; segmentation adds "polygons" (a list of
        [x1, y1, x2, y2, ...] normalised outlines) and "mask_quality" (see
        `mask_quality_scores`). Images go through the model `batch` at a time."""
        if batch < 1:
            raise ValueError("batch must be at least 1")
        model = self._fitted()
        predictor = _mask_quality_predictor() if self.task == "segment" else None
        paths = [str(Path(p)) for p in image_paths]
        out: list[list[dict]] = []
        for start in range(0, len(paths), batch):
            chunk = paths[start:start + batch]
            with _process_state_kept():
                results = model.predict(chunk, batch=len(chunk), conf=float(conf), max_det=int(max_det), save=False,
                                        stream=False, predictor=predictor, **self._common())
            out.extend(_objects(result, self.task) for result in results)
        return out

    # -- persistence ----------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Copy the trained weights (best.pt) to `path`."""
        self._fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if Path(self.weights_).resolve() != path.resolve():
            shutil.copyfile(self.weights_, path)
        return path

    def load(self, path: str | Path) -> Self:
        """Use the weights at `path` (a .pt saved by `save` or uploaded by an admin)."""
        path = Path(path)
        if path.suffix != ".pt" or not path.is_file():
            raise ValueError(f"weights must be an existing .pt file, got {str(path)!r}")
        self.model_ = self._yolo(path)
        if self.model_.task != self.task:
            raise ValueError(f"{path} holds a {self.model_.task!r} model, this learner is for {self.task!r}")
        self.weights_ = path
        self.names_ = dict(self.model_.names)
        return self


def _objects(result, task: str) -> list[dict]:
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return []
    xyxy = boxes.xyxyn.cpu().numpy().clip(0.0, 1.0)
    confidences = boxes.conf.cpu().numpy()
    labels = boxes.cls.cpu().numpy().astype(int)
    objects = [
        {"label": int(label), "confidence": float(confidence),
         "box": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]}
        for label, confidence, (x1, y1, x2, y2) in zip(labels, confidences, xyxy)
    ]
    if task == "segment":
        polygons = result.masks.xyn if result.masks is not None else [[] for _ in objects]
        quality = getattr(result, "mask_quality", None)
        for index, obj in enumerate(objects):
            outline = [float(v) for v in (polygons[index].clip(0.0, 1.0).ravel() if len(polygons[index]) else [])]
            obj["polygons"] = [outline] if len(outline) >= 6 else []
            if quality is not None:
                obj["mask_quality"] = float(quality[index])
    return objects


def mask_quality_scores(probabilities, inside):
    """Mean of |2p - 1| over the pixels of each object's box: 1 when every pixel is
    confidently in or out of the mask, 0 when all sit at p = 0.5. `probabilities` (N, H, W)
    are the mask pixel probabilities, `inside` (N, H, W) marks the box pixels (torch)."""
    certainty = (2 * probabilities - 1).abs() * inside
    return certainty.sum(dim=(1, 2)) / inside.sum(dim=(1, 2)).clamp(min=1)


_PREDICTOR = None


@dataclass(frozen=True)
class DetectorSpec:
    """A detection learner as the API, UI and worker see it: `build(**params)` makes a
    YoloLearner for `task` from the architecture yaml `model` (params: epochs, imgsz,
    batch, device, random_state, run_dir, weights, ...)."""

    key: str
    label: str
    task: str
    model: str
    description: str = ""

    def __post_init__(self):
        _check_model_source(self.task, self.model, None)

    def build(self, **params: Any) -> YoloLearner:
        return YoloLearner(task=self.task, model=params.pop("model", self.model), **params)


def _mask_quality_predictor():
    """A SegmentationPredictor that also reports mask quality per object (the stock one
    keeps only the thresholded masks, so pixel probabilities are gone by the time
    Results exist). Built once, after configure_offline."""
    global _PREDICTOR
    if _PREDICTOR is not None:
        return _PREDICTOR
    import torch
    from ultralytics.engine.results import Results
    from ultralytics.models.yolo.segment import SegmentationPredictor
    from ultralytics.utils import ops

    class MaskQualityPredictor(SegmentationPredictor):
        def construct_result(self, pred, img, orig_img, img_path, proto):
            if pred.shape[0] == 0:
                result = Results(orig_img, path=img_path, names=self.model.names, boxes=pred[:, :6], masks=None)
                result.mask_quality = torch.empty(0)
                return result
            channels, height, width = proto.shape
            logits = (pred[:, 6:] @ proto.float().view(channels, -1)).view(-1, height, width)
            scale = torch.tensor([width / img.shape[3], height / img.shape[2]] * 2, device=pred.device)
            x1, y1, x2, y2 = (pred[:, :4] * scale).T[:, :, None, None]
            cols = torch.arange(width, device=pred.device)[None, None, :]
            rows = torch.arange(height, device=pred.device)[None, :, None]
            inside = ((cols >= x1.floor()) & (cols < x2.ceil()) & (rows >= y1.floor()) & (rows < y2.ceil())).float()
            quality = mask_quality_scores(logits.sigmoid(), inside)
            if self.args.retina_masks:
                pred[:, :4] = ops.scale_boxes(img.shape[2:], pred[:, :4], orig_img.shape)
                masks = ops.process_mask_native(proto, pred[:, 6:], pred[:, :4], orig_img.shape[:2])
            else:
                masks = ops.process_mask(proto, pred[:, 6:], pred[:, :4], img.shape[2:], upsample=True)
                pred[:, :4] = ops.scale_boxes(img.shape[2:], pred[:, :4], orig_img.shape)
            keep = masks.amax((-2, -1)) > 0  # as the stock predictor: drop objects without a mask
            pred, masks, quality = pred[keep], masks[keep], quality[keep]
            result = Results(orig_img, path=img_path, names=self.model.names, boxes=pred[:, :6], masks=masks)
            result.mask_quality = quality.cpu()
            return result

    _PREDICTOR = MaskQualityPredictor
    return _PREDICTOR


__all__ = ["DEFAULT_MODELS", "TASKS", "DetectorSpec", "YoloLearner", "configure_offline", "default_config_dir", "mask_quality_scores"]
