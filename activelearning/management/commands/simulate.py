"""Replay the loop on labeled data with an oracle, to compare strategies before
spending annotators' time. The same rounds as the worker's (activelearning.engine)."""
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from activelearning.config import ConfigError
from activelearning.datasets import DatasetError, load_dataset, yolo_data_yaml
from activelearning.learners import DETECTORS, LEARNERS
from activelearning.simulate import (
    SimulationConfig,
    default_learner,
    plot_curves,
    simulate,
    simulate_detection,
    strategy_spec,
)
from activelearning.strategies import STRATEGIES


class Command(BaseCommand):
    help = "Simulate active learning on labeled data: learning curves per strategy, as JSON and a plot."

    def add_arguments(self, parser):
        parser.add_argument("--data", action="append", required=True, type=Path,
                            help="CSV/TSV/JSONL/labelled .txt file(s), a folder of images in class subfolders, "
                                 "or a YOLO dataset (its data.yaml, or a folder with data.yaml and labels/).")
        parser.add_argument("--text-field", default="text")
        parser.add_argument("--label-field", default="label")
        parser.add_argument("--image-size", type=int, default=8, help="Images are resized to this square size.")
        parser.add_argument("--strategy", action="append", dest="strategies",
                            help="A registered strategy or a mix like margin:0.7,coreset:0.2,random:0.1 (repeatable).")
        parser.add_argument("--learner", choices=sorted(LEARNERS), help="Defaults to tfidf_logreg (text) or image_cnn.")
        parser.add_argument("--initial", type=int, default=20)
        parser.add_argument("--batch", type=int, default=10)
        parser.add_argument("--budget", type=int, default=300)
        parser.add_argument("--seeds", type=int, default=5)
        parser.add_argument("--test-fraction", type=float, default=0.3)
        parser.add_argument("--committee-size", type=int, default=5)
        parser.add_argument("--eer-candidates", type=int, default=100)
        detection = parser.add_argument_group("detection (a YOLO dataset as --data)")
        detection.add_argument("--detector", choices=sorted(DETECTORS), help="Defaults to yolo_detect.")
        detection.add_argument("--epochs", type=int, default=10, help="Training epochs per round.")
        detection.add_argument("--imgsz", type=int, default=320, help="Training and prediction image size.")
        detection.add_argument("--train-batch", type=int, default=16, help="Training batch size.")
        detection.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
        detection.add_argument("--min-labeled", type=int, default=8,
                               help="Below this many labeled images the batch is chosen by diversity.")
        detection.add_argument("--quality-bar", type=float, default=0.05,
                               help="Below this mAP50 the batch is chosen by diversity.")
        parser.add_argument("--out", type=Path, help="Write the result JSON here (else print it).")
        parser.add_argument("--plot", type=Path, help="Write the learning curves as a PNG here.")

    def handle(self, *args, **options):
        # As in the job workers: BLAS on one thread. The rounds' BLAS work is far too
        # small to share, and threads that wait on a loaded machine made rounds ~30x slower.
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        data_yaml = yolo_data_yaml(options["data"][0]) if len(options["data"]) == 1 else None
        if data_yaml is not None:
            return self._detection(data_yaml, options)
        strategies = options["strategies"] or ["random", "margin"]
        for name in strategies:
            key, _ = strategy_spec(name)
            if key not in STRATEGIES:
                raise CommandError(f"Unknown strategy {name!r}. Choose from: {', '.join(STRATEGIES)}")
        for option in ("initial", "batch", "budget", "seeds"):
            if options[option] < 1:
                raise CommandError(f"--{option.replace('_', '-')} must be at least 1")
        if not 0 < options["test_fraction"] < 1:
            raise CommandError("--test-fraction must be between 0 and 1")
        try:
            dataset = load_dataset(options["data"], options["text_field"], options["label_field"], options["image_size"])
            config = SimulationConfig(
                strategies=strategies, learner=options["learner"] or default_learner(dataset.kind),
                initial=options["initial"], batch=options["batch"], budget=options["budget"], seeds=options["seeds"],
                test_fraction=options["test_fraction"],
                sampling={"committee_size": options["committee_size"], "eer_candidates": options["eer_candidates"]},
            )

            def progress(phase: str, done: int, total: int) -> None:
                self.stderr.write(f"\r{phase}: {done}/{total}", ending="")

            result = simulate(dataset, config, progress=progress)
        except (DatasetError, ConfigError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self._write_result(result, options, metric="accuracy")
        level = 0.95 * result["full_accuracy"]
        for name, labels in result["labels_to_95pct"].items():
            reached = f"at {labels} labels" if labels is not None else "not reached within the budget"
            self.stderr.write(f"{name}: 95% of full-data accuracy ({level:.3f}) {reached}")

    def _detection(self, data_yaml: Path, options) -> None:
        strategies = options["strategies"] or ["random", "det_least_confident"]
        for name in strategies:
            if name not in STRATEGIES:
                raise CommandError(f"Unknown strategy {name!r}. Choose from: {', '.join(STRATEGIES)}")
        for option in ("initial", "batch", "budget", "seeds", "epochs"):
            if options[option] < 1:
                raise CommandError(f"--{option.replace('_', '-')} must be at least 1")
        if not 0 < options["test_fraction"] < 1:
            raise CommandError("--test-fraction must be between 0 and 1")
        training = {"epochs": options["epochs"], "imgsz": options["imgsz"], "batch": options["train_batch"],
                    "device": options["device"], "min_labeled": options["min_labeled"],
                    "quality_bar": options["quality_bar"]}

        def progress(phase: str, done: int, total: int) -> None:
            self.stderr.write(f"\r{phase}: {done}/{total}", ending="")

        try:
            result = simulate_detection(
                data_yaml, strategies, initial=options["initial"], batch=options["batch"], budget=options["budget"],
                seeds=options["seeds"], training=training, test_fraction=options["test_fraction"],
                detector=options["detector"], progress=progress,
            )
        except (DatasetError, ConfigError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self._write_result(result, options, metric="map50")
        for name, curve in result["strategies"].items():
            self.stderr.write(f"{name}: mAP50 {curve['map50_mean'][-1]:.3f} at {curve['labels'][-1]} labeled images, "
                              f"{curve['seconds_per_round']:.1f} s per round")

    def _write_result(self, result: dict, options, metric: str) -> None:
        """The JSON to --out (or stdout) and the curves to --plot."""
        self.stderr.write("")
        text = json.dumps(result, indent=1)
        if options["out"]:
            options["out"].write_text(text)
            self.stderr.write(f"Wrote {options['out']}")
        else:
            sys.stdout.write(text + "\n")
        if options["plot"]:
            plot_curves(result, str(options["plot"]), metric=metric)
            self.stderr.write(f"Wrote {options['plot']}")
