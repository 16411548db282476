"""Vision benchmark on the CPU (or whatever device --device names), printed as JSON:

(a) pool prediction speed: images/s of the smallest detector (yolov8n) predicting on
    pool images at 320 px, batches of 32 (speed does not depend on accuracy, so the
    model is the one trained in (b));
(b) one retrain round with 100 labeled images: vision_engine.run_round, exactly the
    worker's round (write the YOLO set, train, evaluate, predict on the pool, select),
    with the project defaults (10 epochs at 320 px, batch 16);
(c) a detection learning curve, det_least_confident vs random, box mAP50 after each
    round on a held-out split, through simulate.simulate_detection on the synthetic set.

    .venv/bin/python bench/vision.py [--quick] [--out bench/results/vision.json] [--plot docs/vision-curve.png]
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")

SIZES = {
    "full": {"round_labeled": 100, "round_pool": 200, "round_eval": 20, "round_imgsz": 320, "round_epochs": 10,
             "predict_images": 200, "curve_images": 200, "curve_imgsz": 160, "curve_epochs": 30, "curve_train_batch": 8,
             "initial": 40, "batch": 40, "budget": 80, "seeds": 1, "test_fraction": 0.3},
    "quick": {"round_labeled": 16, "round_pool": 32, "round_eval": 8, "round_imgsz": 160, "round_epochs": 1,
              "predict_images": 32, "curve_images": 24, "curve_imgsz": 64, "curve_epochs": 1, "curve_train_batch": 8,
              "initial": 4,
              "batch": 4, "budget": 4, "seeds": 1, "test_fraction": 0.25},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 epoch: checks that it runs (~1-2 min)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="also write the JSON here (rewritten after each part)")
    parser.add_argument("--plot", type=Path, help="write the learning curve (mAP50) as a PNG here")
    parser.add_argument("--skip-curve", action="store_true")
    parser.add_argument("--first-seed", type=int, default=0, help="curve seeds start here (to add seeds later)")
    parser.add_argument("--reuse-round", type=Path,
                        help="take (a) and (b) from this earlier JSON of the same script instead of rerunning them")
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from activelearning import vision_engine
    from activelearning.simulate import plot_curves, simulate_detection
    from activelearning.synthetic_shapes import generate
    from annotations.formats.yolo import read_yolo

    sizes = SIZES["quick" if args.quick else "full"]
    result: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
        "cpus": os.cpu_count(), "load_before": os.getloadavg(), "device": args.device, "sizes": sizes,
        "detector": "yolo_detect (yolov8n.yaml, from scratch)",
    }

    def dump() -> None:
        text = json.dumps(result, indent=1)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
        return text

    with tempfile.TemporaryDirectory(prefix="bench-vision-") as tmp:
        tmp = Path(tmp)
        if args.reuse_round:
            earlier = json.loads(args.reuse_round.read_text())
            result.update(round=earlier["round"], predict=earlier["predict"],
                          round_measured={k: earlier.get(k) for k in ("started", "load_before")})
        else:
            # (b) one round with 100 labeled images at 320 px, pool of 200
            total = sizes["round_labeled"] + sizes["round_pool"] + sizes["round_eval"]
            data = generate(tmp / "round", total, image_size=sizes["round_imgsz"], seed=11, val_fraction=0.1)
            records = read_yolo(data).images
            labeled = records[:sizes["round_labeled"]]
            pool = records[sizes["round_labeled"]:sizes["round_labeled"] + sizes["round_pool"]]
            evaluation = records[sizes["round_labeled"] + sizes["round_pool"]:]
            training = {"epochs": sizes["round_epochs"], "imgsz": sizes["round_imgsz"], "batch": 16,
                        "device": args.device, "min_labeled": 8, "quality_bar": 0.05, "weights": ""}
            started = time.perf_counter()
            outcome = vision_engine.run_round(labeled, pool, evaluation, ["circle", "square", "triangle"], "detect",
                                              "det_least_confident", 20, training, tmp / "round-work",
                                              np.random.default_rng(0), run_name="bench")
            result["round"] = {
                "labeled": len(labeled), "pool": len(pool), "evaluated_on": len(evaluation), "training": training,
                "seconds": round(time.perf_counter() - started, 2),
                "timings_s": {k: round(v, 2) for k, v in outcome.timings.items()},
                "metrics": {k: round(v, 4) for k, v in outcome.metrics.items()}, "strategy_used": outcome.strategy,
                "note": outcome.note,
            }
            dump()
            # (a) prediction speed of that model at 320 px over the pool images
            paths = [r.path for r in pool][:sizes["predict_images"]]
            outcome.learner.imgsz = sizes["round_imgsz"]
            outcome.learner.predict(paths[:8], batch=8)  # warm-up
            started = time.perf_counter()
            predictions = outcome.learner.predict(paths, batch=vision_engine.PREDICT_BATCH)
            seconds = time.perf_counter() - started
            result["predict"] = {"images": len(paths), "imgsz": sizes["round_imgsz"], "batch": vision_engine.PREDICT_BATCH,
                                 "seconds": round(seconds, 2), "images_per_s": round(len(paths) / seconds, 1),
                                 "objects_per_image": round(sum(map(len, predictions)) / max(len(paths), 1), 1)}
            dump()
        # (c) learning curve
        if not args.skip_curve:
            data = generate(tmp / "curve", sizes["curve_images"], image_size=sizes["curve_imgsz"], seed=5)
            curve_training = {"epochs": sizes["curve_epochs"], "imgsz": sizes["curve_imgsz"],
                              "batch": sizes["curve_train_batch"],
                              "device": args.device, "min_labeled": 8, "quality_bar": 0.05, "weights": ""}
            started = time.perf_counter()

            def progress(phase: str, done: int, total: int) -> None:
                print(f"{phase}: {done}/{total} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

            curve = simulate_detection(data, ["random", "det_least_confident"], initial=sizes["initial"],
                                       batch=sizes["batch"], budget=sizes["budget"], seeds=sizes["seeds"],
                                       training=curve_training, test_fraction=sizes["test_fraction"],
                                       work_dir=tmp / "curve-work", progress=progress,
                                       first_seed=args.first_seed)
            curve["seconds"] = round(time.perf_counter() - started, 1)
            curve["config"]["data"] = f"synthetic_shapes.generate(n={sizes['curve_images']}, size={sizes['curve_imgsz']}, seed=5)"
            result["curve"] = curve
            if args.plot:
                args.plot.parent.mkdir(parents=True, exist_ok=True)
                plot_curves(curve, str(args.plot), metric="map50")
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["load_after"] = os.getloadavg()
    print(dump())


if __name__ == "__main__":
    main()
