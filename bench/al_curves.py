"""Active-learning curves of every registered strategy against random, and against
modAL / small-text on the same splits, the same initial sets and the same learner.

    .venv/bin/python bench/al_curves.py                 # the full benchmark (~30-40 min on 2 cores)
    .venv/bin/python bench/al_curves.py --quick         # a few minutes: 2 seeds, short budgets, 6 strategies
    .venv/bin/python bench/al_curves.py --suites digits --strategies random,margin --seeds 3

Prints one JSON object (also written to bench/results/al_curves-<UTC time>.json) and
draws one PNG of curves per suite (bench/results/, and docs/ with --docs).

Suites (data x learner):
- sentiment_tfidf: the shared sentiment sentences, TF-IDF + logistic regression
  (the app's `tfidf_logreg`);
- sentiment_minilm: the same sentences, MiniLM sentence embeddings + logistic regression
  (the app's `minilm_logreg`);
- digits: the shared sklearn digits (digits.csv, pixels / 16), pixels + logistic regression
  with the app's text LR settings (C=4, max_iter=1000, balanced). No registered image learner
  is pixels + LR (`image_cnn` is a CNN, `image_embedding_logreg` is LR on random conv
  features), and FACTS' reference numbers are pixels + LR, so the bench registers a learner
  `bench_pixels_logreg` at run time (bench only) to compare like with like with modAL.

Everything goes through `activelearning.simulate.simulate`, i.e. `engine.run_round` in a
loop with an oracle: the worker's code path. The bench only wraps two internals to keep
per-seed data (simulate reports means only) and caches features between strategies.
The reference (modAL 0.4.2.1, small-text 1.4.1) runs in its own venv (bench/reference_env.sh)
through bench/reference_al.py, on the same feature matrix, splits (simulate's `_split`,
same seeds), initial sets (simulate's draw) and LogisticRegression parameters.
BLAS is limited to one thread in both processes, as in the app's job workers.
"""
import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402, F401  (loads scipy's own OpenBLAS before the limit below)
import scipy.optimize  # noqa: E402, F401
import sklearn.linear_model  # noqa: E402, F401
from scipy import sparse  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

# One BLAS thread, as in the app's job workers. threadpool_limits only reaches the BLAS
# libraries already loaded, hence the imports above (numpy's and scipy's OpenBLAS builds
# are separate libraries; L-BFGS-B runs on scipy's).
_BLAS = threadpool_limits(1, user_api="blas")
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # EER's 30-iteration warm-started refits

from activelearning import engine  # noqa: E402
from activelearning import learners as learners_module  # noqa: E402
from activelearning import simulate as sim  # noqa: E402
from activelearning.config import strategy_params, validate_sampling  # noqa: E402
from activelearning.datasets import Dataset, load_dataset  # noqa: E402
from activelearning.learners import LEARNERS, LearnerSpec, build_features, make_classifier  # noqa: E402
from activelearning.strategies import STRATEGIES, PoolInputs  # noqa: E402
from activelearning.strategies.mix import DEFAULT_MIX  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_pool  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"
REFERENCE_PYTHON = ROOT / "bench" / ".venv-reference" / "bin" / "python"
PIXELS_LEARNER = "bench_pixels_logreg"
EXPENSIVE_EER = ("eer_log_loss", "eer_zero_one")
EXPENSIVE_COMMITTEE = ("vote_entropy", "consensus_entropy", "max_disagreement", "kl_to_consensus")
REFERENCE = ["modal_uncertainty", "modal_margin", "modal_entropy",
             "smalltext_least_confidence", "smalltext_breaking_ties", "smalltext_prediction_entropy"]
# Which of ours each reference strategy mirrors.
MIRROR = {"modal_uncertainty": "least_confidence", "modal_margin": "margin", "modal_entropy": "entropy",
          "smalltext_least_confidence": "least_confidence", "smalltext_breaking_ties": "margin",
          "smalltext_prediction_entropy": "entropy"}
# Every registered strategy that applies to classification (detection / segmentation
# strategies read per-box detections, which these datasets do not have).
CLASSIFICATION = [key for key, strategy in STRATEGIES.items() if strategy.family != "detection"
                  and "detections" not in strategy.needs]
SUITES = {
    "sentiment_tfidf": {"data": "sentiment", "learner": "tfidf_logreg", "budget": 1000},
    "sentiment_minilm": {"data": "sentiment", "learner": "minilm_logreg", "budget": 300},
    "digits": {"data": "digits", "learner": PIXELS_LEARNER, "budget": 300},
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the bench-only learner, data and caches -------------------------------------------------

LEARNERS.setdefault(PIXELS_LEARNER, LearnerSpec(
    PIXELS_LEARNER, "Pixels + logistic regression (bench only)", "image", "pixels", make_classifier,
    "Flat pixel vectors with the app's logistic regression (C=4, balanced).",
))


def load_digits(folder: Path) -> Dataset:
    """digits.csv: sklearn_index,label,p0..p63 with values 0-16; scaled to [0, 1], flat (n, 64)."""
    table = np.loadtxt(folder / "digits.csv", delimiter=",", skiprows=1, dtype=np.int64)
    pixels = (table[:, 2:] / 16.0).astype(np.float32)
    return Dataset("image", pixels, table[:, 1].astype(str), str(folder / "digits.csv"))


def load_data(name: str) -> Dataset:
    if name == "sentiment":
        return load_dataset([SHARED / "sentiment_labelled_sentences"])
    return load_digits(SHARED / "sklearn_digits")


_EMBED_SECONDS = {"seconds": 0.0, "cached": False}
_real_embed = learners_module.embed_texts


def _cached_embed(texts, batch_size: int = 64):
    """MiniLM vectors cached on disk by content, so reruns skip the ~20-40 s of embedding."""
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]
    path = RESULTS / "cache" / f"minilm-{digest}.npy"
    if path.exists():
        _EMBED_SECONDS["cached"] = True
        return np.load(path)
    started = time.perf_counter()
    vectors = _real_embed(texts, batch_size=batch_size)
    _EMBED_SECONDS["seconds"] += time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


learners_module.embed_texts = _cached_embed  # simulate.Features imports it at call time

_FEATURES: dict = {}
_RealFeatures = sim.Features


def _cached_features(dataset, learner):
    key = (id(dataset), LEARNERS[learner].features)
    if key not in _FEATURES:
        _FEATURES[key] = _RealFeatures(dataset, learner)
    return _FEATURES[key]


sim.Features = _cached_features

_CAPTURED: list = []
_real_summarise = sim._summarise


def _capturing_summarise(runs):
    _CAPTURED.append(runs)
    return _real_summarise(runs)


sim._summarise = _capturing_summarise

_ROUND_TIMINGS: list = []
_real_run_round = engine.run_round


def _timed_run_round(problem, settings, **kwargs):
    outcome = _real_run_round(problem, settings, **kwargs)
    _ROUND_TIMINGS.append(outcome.timings)
    return outcome


engine.run_round = _timed_run_round


# --- summaries -------------------------------------------------------------------------------

def summarise(runs: list[dict], full: list[float], seeds: list[int]) -> dict:
    """Mean curve over `seeds` (positions in `runs` / `full`), labels to 95% of the mean
    full-data accuracy on the same seeds, area under the curve and seconds per round."""
    chosen = [runs[s] for s in seeds]
    length = min(len(run["labels"]) for run in chosen)
    labels = chosen[0]["labels"][:length]
    accuracy = np.array([run["accuracy"][:length] for run in chosen])
    macro_f1 = np.array([run["macro_f1"][:length] for run in chosen])
    mean = accuracy.mean(axis=0)
    level = 0.95 * float(np.mean([full[s] for s in seeds]))
    reached = next((int(n) for n, a in zip(labels, mean) if a >= level), None)
    per_seed_auc = [sim.area_under_curve(labels, row) for row in accuracy]
    return {
        "seeds": len(seeds),
        "labels_to_95pct": reached,
        "level_95pct": round(level, 5),
        "area_under_curve": round(sim.area_under_curve(labels, mean), 5),
        "auc_per_seed": [round(v, 5) for v in per_seed_auc],
        "final_accuracy": round(float(mean[-1]), 4),
        "final_macro_f1": round(float(macro_f1.mean(axis=0)[-1]), 4),
        "seconds_per_round": round(float(np.mean([np.mean(run["seconds"]) for run in chosen])), 5),
        "labels": labels,
        "accuracy_mean": mean.round(5).tolist(),
        "accuracy_std": accuracy.std(axis=0).round(5).tolist(),
    }


def strategy_setup(key: str, classes: list[str], args) -> tuple[str, dict, int, str]:
    """(name for simulate, sampling, seeds, note) for a registry key."""
    sampling = {"committee_size": args.committee_size, "eer_candidates": args.eer_candidates}
    seeds, note = args.seeds, ""
    if key == "mix":
        return DEFAULT_MIX, sampling, seeds, f"registered 'mix' with parts {DEFAULT_MIX}"
    if key == "class_balanced":
        note = "even target ratios (simulate's default when none are given)"
    if key in EXPENSIVE_EER:
        seeds = min(seeds, args.eer_seeds)
        note = f"{args.eer_candidates} candidates (app default 100), {seeds} seeds"
    if key in EXPENSIVE_COMMITTEE:
        seeds = min(seeds, args.expensive_seeds)
        note = f"committee of {args.committee_size} (app default 5, bagging), {seeds} seeds"
    return key, sampling, seeds, note


# --- one suite -------------------------------------------------------------------------------

def export_for_reference(features, y, splits, learner: str, args, budget: int, workdir: Path) -> Path:
    matrix = features.matrix
    if sparse.issparse(matrix):
        path = workdir / "features.npz"
        sparse.save_npz(path, matrix.tocsr())
    else:
        path = workdir / "features.npy"
        np.save(path, np.asarray(matrix).reshape(len(matrix), -1))
    np.save(workdir / "labels.npy", y)
    params = LEARNERS[learner].factory(0).get_params()
    job = {
        "mode": "curves", "features": str(path), "labels": str(workdir / "labels.npy"),
        "lr_params": {key: params[key] for key in ("C", "max_iter", "class_weight", "solver", "tol", "random_state",
                                                   "fit_intercept") if key in params},
        "initial": args.initial, "batch": args.batch, "budget": budget, "strategies": args.reference_strategies,
        "splits": [{"seed": s, "pool": p.tolist(), "test": t.tolist(), "initial": i.tolist()} for s, (p, t, i) in
                   enumerate(splits)],
    }
    job_path = workdir / "job.json"
    job_path.write_text(json.dumps(job))
    return job_path


def run_suite(suite: str, args) -> dict:
    spec = SUITES[suite]
    budget = args.budget or spec["budget"]
    learner = spec["learner"]
    dataset = load_data(spec["data"])
    names = sorted(set(dataset.labels.tolist()))
    y = np.searchsorted(names, dataset.labels)
    started = time.perf_counter()
    features = sim.Features(dataset, learner)
    features_s = time.perf_counter() - started
    splits = []
    for seed in range(args.seeds):
        pool, test = sim._split(y, 0.3, seed)
        rng = np.random.default_rng(seed)  # simulate's draw of the initial set, reproduced
        initial = np.asarray(rng.choice(pool, size=min(args.initial, len(pool)), replace=False))
        splits.append((pool, test, initial))
    full = [sim._full_accuracy(features, y, (p, t), learner, s) for s, (p, t, _) in enumerate(splits)]
    log(f"{suite}: {len(y)} items, {len(names)} classes, features {features_s:.1f} s, "
        f"full-data accuracy {np.mean(full):.4f}; budget {budget}")

    reference_proc, workdir = None, None
    if args.reference_strategies and REFERENCE_PYTHON.exists():
        workdir = Path(tempfile.mkdtemp(prefix=f"al-ref-{suite}-", dir=RESULTS))
        job_path = export_for_reference(features, y, splits, learner, args, budget, workdir)
        reference_proc = subprocess.Popen(
            [str(REFERENCE_PYTHON), str(ROOT / "bench" / "reference_al.py"), str(job_path), str(workdir / "out.json")],
            stderr=open(workdir / "stderr.log", "w"),
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        )
        log(f"{suite}: reference started (pid {reference_proc.pid})")
    elif args.reference_strategies:
        log(f"{suite}: no reference venv at {REFERENCE_PYTHON}; run bench/reference_env.sh")

    per_seed: dict[str, list] = {}
    strategies: dict[str, dict] = {}
    for key in args.strategies:
        name, sampling, seeds, note = strategy_setup(key, names, args)
        config = sim.SimulationConfig(strategies=[name], learner=learner, initial=args.initial, batch=args.batch,
                                      budget=budget, seeds=seeds, sampling=sampling)
        _CAPTURED.clear()
        _ROUND_TIMINGS.clear()
        started = time.perf_counter()
        try:
            result = sim.simulate(dataset, config)
        except Exception as error:  # record it and go on with the other strategies
            strategies[key] = {"error": f"{type(error).__name__}: {error}", "note": note}
            log(f"{suite}: {key} failed: {type(error).__name__}: {error}")
            continue
        wall = time.perf_counter() - started
        runs = _CAPTURED[0]
        per_seed[key] = runs
        summary = summarise(runs, full, list(range(seeds)))
        timings = {phase: round(float(np.mean([t.get(phase, 0.0) for t in _ROUND_TIMINGS])), 5)
                   for phase in ("fit_s", "score_s", "select_s", "evaluate_s")}
        summary.update({"simulate_labels_to_95pct": result["labels_to_95pct"][name],
                        "simulate_full_accuracy": round(result["full_accuracy"], 5),
                        "round_phases_mean": timings, "wall_s": round(wall, 1), "note": note})
        strategies[key] = summary
        log(f"{suite}: {key:20s} labels to 95% {summary['labels_to_95pct']}, AUC {summary['area_under_curve']:.4f}, "
            f"{summary['seconds_per_round']:.3f} s/round, {seeds} seeds, {wall:.0f} s")

    # Ratios to random on the same seeds.
    for summary in strategies.values():
        if "random" not in per_seed:
            break
        if "error" in summary:
            continue
        base = summarise(per_seed["random"], full, list(range(summary["seeds"])))
        summary["random_labels_to_95pct_same_seeds"] = base["labels_to_95pct"]
        summary["ratio_to_random"] = (round(summary["labels_to_95pct"] / base["labels_to_95pct"], 3)
                                      if summary["labels_to_95pct"] and base["labels_to_95pct"] else None)
        summary["auc_minus_random"] = round(summary["area_under_curve"] - base["area_under_curve"], 5)

    reference = {}
    if reference_proc is not None:
        code = reference_proc.wait()
        if code != 0:
            reference = {"error": f"reference exited {code}: {(workdir / 'stderr.log').read_text()[-2000:]}"}
        else:
            payload = json.loads((workdir / "out.json").read_text())
            reference["meta"] = payload["meta"]
            for name, runs in payload["result"].items():
                summary = summarise(runs, full, list(range(len(runs))))
                summary["query_s_mean"] = round(float(np.mean([np.mean(r["query_s"][:-1]) for r in runs])), 5)
                summary["fit_s_mean"] = round(float(np.mean([np.mean(r["fit_s"]) for r in runs])), 5)
                reference[name] = summary
                ours = strategies.get(MIRROR[name])
                if ours and "error" not in ours:
                    ours_auc = np.asarray(ours["auc_per_seed"])
                    theirs = np.asarray(summary["auc_per_seed"][: len(ours_auc)])
                    diff = ours_auc - theirs
                    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else None
                    summary["vs_ours"] = {
                        "ours": MIRROR[name], "auc_ours": ours["area_under_curve"],
                        "auc_reference": summary["area_under_curve"],
                        "auc_diff_mean": round(float(diff.mean()), 5),
                        "auc_diff_se": round(se, 5) if se is not None else None,
                        "labels_to_95_ours": ours["labels_to_95pct"],
                        "labels_to_95_reference": summary["labels_to_95pct"],
                        "max_abs_curve_gap": round(float(np.max(np.abs(
                            np.asarray(ours["accuracy_mean"][: len(summary["accuracy_mean"])])
                            - np.asarray(summary["accuracy_mean"][: len(ours["accuracy_mean"])])))), 4),
                        "ours_matches_or_beats": bool(se is None or diff.mean() >= -2 * se),
                    }
            log(f"{suite}: reference done in {payload['meta']['wall_s']} s")
            shutil.rmtree(workdir, ignore_errors=True)  # kept only when the reference failed
    # Best = lowest ratio to random on the same seeds (strategies run on fewer seeds are
    # compared with random on those seeds); also the best among those run on every seed.
    ranked = [k for k in strategies if k != "random" and strategies[k].get("ratio_to_random") is not None]

    def rank(k):
        return strategies[k]["ratio_to_random"], -strategies[k]["area_under_curve"]

    best = min(ranked, key=rank, default=None)
    best_all_seeds = min([k for k in ranked if strategies[k]["seeds"] == args.seeds], key=rank, default=None)
    random_needs = strategies.get("random", {}).get("labels_to_95pct")
    best_needs = strategies[best]["labels_to_95pct"] if best else None
    random_same = strategies[best].get("random_labels_to_95pct_same_seeds") if best else None
    goal = {
        "best_strategy": best, "best_labels_to_95pct": best_needs, "random_labels_to_95pct": random_needs,
        "random_labels_to_95pct_same_seeds_as_best": random_same,
        "best_ratio_to_random": strategies[best].get("ratio_to_random") if best else None,
        "met_at_most_60pct": bool(best and strategies[best].get("ratio_to_random") is not None
                                  and strategies[best]["ratio_to_random"] <= 0.6),
        "best_on_all_seeds": best_all_seeds,
        "best_on_all_seeds_ratio_to_random": strategies[best_all_seeds]["ratio_to_random"] if best_all_seeds else None,
    }
    out = {
        "learner": learner, "items": int(len(y)), "classes": names, "budget": budget,
        "pool_items_per_seed": int(len(splits[0][0])), "test_items_per_seed": int(len(splits[0][1])),
        "features_s": round(features_s, 2), "full_accuracy_per_seed": [round(v, 5) for v in full],
        "full_accuracy": round(float(np.mean(full)), 5), "goal_60pct": goal,
        "strategies": strategies, "reference": reference,
    }
    if suite == "sentiment_minilm":
        out["embedding_s"] = round(_EMBED_SECONDS["seconds"], 1)
        out["embedding_cached"] = _EMBED_SECONDS["cached"]
    return out


# --- query time on a 100,000-item pool ------------------------------------------------------

class ReferenceQueries:
    """The reference venv's query server (reference_al.py, mode "query"): one query per
    request, timed inside that process, so that its queries can be interleaved with ours."""

    def __init__(self, job_path: Path):
        self.process = subprocess.Popen(
            [str(REFERENCE_PYTHON), str(ROOT / "bench" / "reference_al.py"), str(job_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        )

    def ask(self, name: str) -> dict:
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference query server stopped (exit {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def query_time(args) -> dict:
    """One margin query (score the pool, select 100) on a large TF-IDF pool: ours, through
    the same engine functions as the worker's round, against modAL's margin_sampling on
    the same fitted coefficients. Repetitions alternate the two sides (and which goes
    first), so that both see the same machine load."""
    n, k, repeats = args.query_pool, 100, args.query_repeats
    started = time.perf_counter()
    texts, labels = synthetic_pool(n, seed=1)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    X = build_features("bench", np.arange(n), texts).matrix
    tfidf_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    train = rng.choice(n, size=1000, replace=False)
    model = make_classifier(0).fit(X[train], labels[train])
    workdir = Path(tempfile.mkdtemp(prefix="al-query-", dir=RESULTS))
    sparse.save_npz(workdir / "features.npz", X)
    np.save(workdir / "coef.npy", model.coef_)
    params = model.get_params()
    job = {"mode": "query", "features": str(workdir / "features.npz"), "coef": str(workdir / "coef.npy"),
           "intercept": model.intercept_.tolist(), "classes": model.classes_.tolist(),
           "lr_params": {key: params[key] for key in ("C", "max_iter", "class_weight")}, "n_instances": k}
    (workdir / "job.json").write_text(json.dumps(job))

    # What the worker's round runs between fitting and evaluating, with its default settings.
    sampling = validate_sampling({}, "margin", ["negative", "positive"])
    settings = engine.Settings(strategy="margin", batch_size=k, learner="tfidf_logreg", sampling=sampling,
                               params=strategy_params("margin", sampling, {}), seed=0)
    problem = engine.Problem(train_X=X[train], train_y=labels[train], pool_X=X)

    def ours_engine_path() -> np.ndarray:
        proba = engine.predict_in_chunks(model, problem.pool_X)
        selection = engine.select_batch(settings.strategy, settings.params, model, make_classifier, problem,
                                        settings, proba, np.random.default_rng(settings.seed))
        return selection.indices

    ours = {"ours_margin_engine_path": ours_engine_path,
            "ours_predict_in_chunks": lambda: engine.predict_in_chunks(model, X),
            "ours_sklearn_predict_proba": lambda: model.predict_proba(X)}
    modal = ("modal_margin_sampling", "modal_learner_query", "predict_proba")
    smalltext = ("smalltext_breaking_ties", "smalltext_least_confidence")
    timings: dict[str, list[float]] = {name: [] for name in (*ours, *modal, *smalltext)}
    chosen: dict[str, list[int]] = {}
    reference = ReferenceQueries(workdir / "job.json") if REFERENCE_PYTHON.exists() else None
    load_before = [round(v, 2) for v in os.getloadavg()]
    try:
        reference_meta = reference.ask("meta") if reference else None
        for name in ours:  # warm-up, not counted: first-call costs on both sides
            ours[name]()
        for name in modal if reference else ():
            reference.ask(name)
        for repetition in range(repeats):
            sides = [("ours", name) for name in ours] + [("modal", name) for name in modal if reference]
            for side, name in sides if repetition % 2 == 0 else reversed(sides):
                if side == "ours":
                    t0 = time.perf_counter()
                    picked = ours[name]()
                    timings[name].append(time.perf_counter() - t0)
                    if name == "ours_margin_engine_path":
                        chosen[name] = np.sort(picked).tolist()
                else:
                    reply = reference.ask(name)
                    timings[name].append(reply["s"])
                    if reply["chosen"]:
                        chosen[name] = reply["chosen"]
        for _ in range(3 if reference else 0):  # small-text's breaking ties takes ~0.3 s a query
            for name in smalltext:
                reply = reference.ask(name)
                timings[name].append(reply["s"])
                chosen[name] = reply["chosen"]
    finally:
        if reference:
            reference.close()
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = [round(v, 2) for v in os.getloadavg()]

    # Pieces of our path, each timed alone (min and median of 21), to show where the time goes.
    from activelearning.strategies.selection import top_k
    from activelearning.strategies.uncertainty import margin

    linear = engine.linear_logits(model)
    proba = engine.predict_in_chunks(model, X)
    scores = margin(proba)
    logits = linear.logits(X)
    out = np.empty_like(proba)

    def piece(fn, count=21):
        values = []
        for _ in range(count):
            t0 = time.perf_counter()
            fn()
            values.append(time.perf_counter() - t0)
        return {"min_ms": round(min(values) * 1000, 3), "median_ms": round(float(np.median(values)) * 1000, 3)}

    components = {
        "X @ coef.T + intercept (LinearLogits.logits)": piece(lambda: linear.logits(X)),
        "logits to probabilities (LinearLogits.proba_into)": piece(lambda: linear.proba_into(logits, out)),
        "STRATEGIES['margin'].select (on proba)": piece(lambda: STRATEGIES["margin"].select(
            PoolInputs(n=n, proba=proba), k, rng=np.random.default_rng(0))),
        "uncertainty.margin(proba)": piece(lambda: margin(proba)),
        "selection.top_k(scores, 100)": piece(lambda: top_k(scores, k, rng=np.random.default_rng(0))),
        "np.argpartition(-scores, 99) (modAL's multi_argmax)": piece(lambda: np.argpartition(-scores, k - 1)[:k]),
        "np.partition(-proba, 1, axis=1) (modAL's margin)": piece(lambda: np.partition(-proba, 1, axis=1)),
    }
    medians = {key: round(float(np.median(value)), 5) for key, value in timings.items() if value}
    minimums = {key: round(float(np.min(value)), 5) for key, value in timings.items() if value}
    result = {"pool_items": n, "batch": k, "repeats": repeats, "interleaved": reference is not None,
              "vocabulary": int(X.shape[1]), "nnz_per_row": round(X.nnz / n, 1), "generate_s": round(generate_s, 2),
              "tfidf_s": round(tfidf_s, 2), "loadavg_before": load_before, "loadavg_after": load_after,
              "model": "tfidf_logreg fitted on 1,000 random items (the same coefficients in both venvs)",
              "median_s": medians, "min_s": minimums, "components": components,
              "same_proba_as_sklearn": bool(np.array_equal(proba, model.predict_proba(X)))}
    if reference:
        ours_s, modal_s = medians["ours_margin_engine_path"], medians["modal_margin_sampling"]
        ratios = np.array(timings["modal_margin_sampling"]) / np.array(timings["ours_margin_engine_path"])
        product_s = components["X @ coef.T + intercept (LinearLogits.logits)"]["median_ms"] / 1000
        result.update({
            "reference_meta": reference_meta,
            "speedup_vs_modal_margin_sampling": round(modal_s / ours_s, 3),
            "speedup_vs_modal_margin_sampling_min": round(minimums["modal_margin_sampling"]
                                                          / minimums["ours_margin_engine_path"], 3),
            "speedup_per_repetition_median": round(float(np.median(ratios)), 3),
            "speedup_per_repetition_range": [round(float(ratios.min()), 3), round(float(ratios.max()), 3)],
            "speedup_vs_modal_learner_query": round(medians["modal_learner_query"] / ours_s, 3),
            "speedup_vs_smalltext_breaking_ties": round(medians["smalltext_breaking_ties"] / ours_s, 3),
            "same_items_as_modal": len(set(chosen["ours_margin_engine_path"])
                                       & set(chosen["modal_margin_sampling"])),
            "bound_speedup_if_only_the_product_remained": round(modal_s / product_s, 3),
            "goal_5x_met": bool(modal_s / ours_s >= 5),
        })
    return result


# --- plots -----------------------------------------------------------------------------------

def plot_suite(suite: str, data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    strategies, reference = data["strategies"], data.get("reference", {})
    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5), dpi=100, sharey=True)
    cmap = plt.get_cmap("tab20")
    for i, (key, curve) in enumerate(strategies.items()):
        if "error" in curve:
            continue
        style = {"linewidth": 2.4, "color": "black"} if key == "random" else {"linewidth": 1.1, "color": cmap(i % 20)}
        left.plot(curve["labels"], curve["accuracy_mean"], label=f"{key} ({curve['labels_to_95pct']})", **style)
    level = 0.95 * data["full_accuracy"]
    best = data["goal_60pct"]["best_strategy"]
    shown = [("random", strategies.get("random"), "black", "-"), ("margin (ours)", strategies.get("margin"), "C0", "-"),
             ("entropy (ours)", strategies.get("entropy"), "C2", "-")]
    if best and best not in ("margin", "entropy"):
        shown.append((f"{best} (ours, best)", strategies.get(best), "C3", "-"))
    for name, color in (("modal_margin", "C1"), ("modal_entropy", "C4"), ("smalltext_breaking_ties", "C5")):
        if isinstance(reference.get(name), dict):
            shown.append((name.replace("_", " ", 1), reference[name], color, "--"))
    for name, curve, color, dash in shown:
        if not curve:
            continue
        x, mean, std = np.asarray(curve["labels"]), np.asarray(curve["accuracy_mean"]), np.asarray(curve["accuracy_std"])
        right.plot(x, mean, dash, color=color, linewidth=1.6, label=f"{name} ({curve['labels_to_95pct']})")
        right.fill_between(x, mean - std, mean + std, color=color, alpha=0.10)
    for axis in (left, right):
        axis.axhline(level, color="grey", linestyle=":", linewidth=1)
        axis.set_xlabel("labels")
        axis.grid(alpha=0.3)
    left.set_ylabel("test accuracy (mean over seeds)")
    left.set_title(f"{suite}: every registered strategy (labels to 95% of full {data['full_accuracy']:.3f})", fontsize=9)
    right.set_title("ours vs modAL / small-text, ±1 std over seeds", fontsize=9)
    left.legend(fontsize=6.5, ncol=2, loc="lower right")
    right.legend(fontsize=7.5, loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# --- main ------------------------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated, from {', '.join(SUITES)}")
    parser.add_argument("--strategies", default=",".join(CLASSIFICATION),
                        help="registry keys, comma-separated (default: every classification strategy)")
    parser.add_argument("--reference-strategies", default=",".join(REFERENCE),
                        help="modAL / small-text strategies ('' for none)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--expensive-seeds", type=int, default=3, help="seeds for the committee strategies")
    parser.add_argument("--eer-seeds", type=int, default=2, help="seeds for eer_log_loss and eer_zero_one")
    parser.add_argument("--eer-candidates", type=int, default=20)
    parser.add_argument("--committee-size", type=int, default=3)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--budget", type=int, default=0, help="labels after the initial set (0 = per-suite default)")
    parser.add_argument("--query-pool", type=int, default=100_000, help="0 skips the query-time comparison")
    parser.add_argument("--query-repeats", type=int, default=21,
                        help="interleaved repetitions of each side of the query comparison")
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, budget 150, strategies random/margin/entropy/coreset/egl/mix, 20,000-item query pool")
    parser.add_argument("--docs", action="store_true", help="also write docs/curves-<suite>.png")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/al_curves-<time>.json)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.expensive_seeds, args.eer_seeds, args.budget = 2, 1, 1, args.budget or 150
        if args.strategies == parser.get_default("strategies"):
            args.strategies = "random,margin,entropy,coreset,egl,mix"
        if args.query_pool == parser.get_default("query_pool"):
            args.query_pool = 20_000
        args.query_repeats = min(args.query_repeats, 3)
    args.suites = [s for s in args.suites.split(",") if s]
    args.strategies = [s for s in args.strategies.split(",") if s]
    args.reference_strategies = [s for s in args.reference_strategies.split(",") if s]
    for suite in args.suites:
        if suite not in SUITES:
            parser.error(f"unknown suite {suite!r}")
    for key in args.strategies:
        if key not in STRATEGIES:
            parser.error(f"unknown strategy {key!r}")
    if "random" not in args.strategies:
        args.strategies.insert(0, "random")
    return args


def main() -> None:
    args = parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()
    load_before = os.getloadavg()
    result = {
        "benchmark": "al_curves", "command": " ".join([".venv/bin/python", "bench/al_curves.py", *sys.argv[1:]]),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_start": [round(v, 2) for v in load_before],
                    "blas": [f"{i['filepath'].rsplit('/', 1)[-1]}: {i['num_threads']} thread(s)"
                             for i in threadpool_info() if i["user_api"] == "blas"]},
        "settings": {"seeds": args.seeds, "expensive_seeds": args.expensive_seeds, "eer_seeds": args.eer_seeds,
                     "initial": args.initial,
                     "batch": args.batch, "eer_candidates": args.eer_candidates,
                     "committee_size": args.committee_size, "test_fraction": 0.3,
                     "budget": args.budget or {s: SUITES[s]["budget"] for s in args.suites}},
        "suites": {},
    }
    out = args.out or RESULTS / f"al_curves-{stamp}.json"
    for suite in args.suites:
        result["suites"][suite] = run_suite(suite, args)
        out.write_text(json.dumps(result, indent=1))  # partial results survive a later failure
        png = RESULTS / f"curves-{suite}-{stamp}.png"
        plot_suite(suite, result["suites"][suite], png)
        result["suites"][suite]["plot"] = str(png.relative_to(ROOT))
        if args.docs:
            (ROOT / "docs").mkdir(exist_ok=True)
            plot_suite(suite, result["suites"][suite], ROOT / "docs" / f"curves-{suite.replace('_', '-')}.png")
    if args.query_pool:
        log(f"query time on a {args.query_pool:,}-item pool")
        result["query_time"] = query_time(args)
    result["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    result["wall_s"] = round(time.perf_counter() - started, 1)
    goals = {suite: data["goal_60pct"]["met_at_most_60pct"] for suite, data in result["suites"].items()}
    matches = {f"{suite}/{name}": ref["vs_ours"]["ours_matches_or_beats"]
               for suite, data in result["suites"].items() for name, ref in data.get("reference", {}).items()
               if isinstance(ref, dict) and "vs_ours" in ref and name.startswith("modal_")}
    result["goals"] = {"best_at_most_60pct_of_random": goals, "ours_matches_or_beats_modal": matches,
                       "query_5x_faster_than_modal": result.get("query_time", {}).get("goal_5x_met")}
    out.write_text(json.dumps(result, indent=1))
    log(f"wrote {out} ({result['wall_s']} s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
