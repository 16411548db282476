"""Reference runs for bench/al_curves.py, executed by the REFERENCE venv's python
(bench/.venv-reference: modAL-python 0.4.2.1 and small-text 1.4.1 with scikit-learn < 1.8;
see bench/reference_env.sh). Never imported by the app.

    bench/.venv-reference/bin/python bench/reference_al.py JOB.json [OUT.json]

JOB.json (written by al_curves.py) is either
- {"mode": "curves", "features": path (.npz sparse or .npy dense), "labels": path (.npy),
   "lr_params": {...}, "initial": 20, "batch": 10, "budget": B, "strategies": [...],
   "splits": [{"seed": s, "pool": [...], "test": [...], "initial": [...]}, ...]}
  -> per strategy and seed: labels, accuracy, macro-F1 and seconds per round (fit, query);
- {"mode": "query", "features": path, "coef": path (.npy), "intercept": [...],
   "classes": [...], "lr_params": {...}, "n_instances": 100}
  -> a server for interleaved timing, run without OUT.json: it loads the pool and the
  fitted model once, then answers each line read from standard input (a name of
  `serve_queries`) by running that query once and writing one JSON line {"s": seconds,
  "chosen": sorted indices}; "meta" answers the versions. The caller times its own
  queries between these requests, so both sides run under the same load.
Both runs limit BLAS to one thread, as the app's worker does.
"""
import json
import sys
import time
import warnings
from importlib.metadata import version

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_info, threadpool_limits

warnings.filterwarnings("ignore")

import scipy.linalg  # noqa: E402, F401
import scipy.optimize  # noqa: E402, F401
import sklearn  # noqa: E402
from modAL.models import ActiveLearner  # noqa: E402
from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from small_text import (  # noqa: E402
    BreakingTies,
    LeastConfidence,
    PoolBasedActiveLearner,
    PredictionEntropy,
    SklearnClassifier,
    SklearnClassifierFactory,
    SklearnDataset,
)

threadpool_limits(1, user_api="blas")  # after the imports: it only reaches BLAS libraries already loaded

MODAL = {"modal_uncertainty": uncertainty_sampling, "modal_margin": margin_sampling, "modal_entropy": entropy_sampling}
SMALL_TEXT = {"smalltext_least_confidence": LeastConfidence, "smalltext_breaking_ties": BreakingTies,
              "smalltext_prediction_entropy": PredictionEntropy}


def load_matrix(path: str):
    return sparse.load_npz(path).tocsr() if path.endswith(".npz") else np.load(path)


def _metrics(model, X, y) -> tuple[float, float]:
    predicted = model.predict(X)
    return float(accuracy_score(y, predicted)), float(f1_score(y, predicted, average="macro", zero_division=0))


def run_modal(name, X, y, split, job) -> dict:
    pool, test, initial = (np.asarray(split[key]) for key in ("pool", "test", "initial"))
    target = min(job["initial"] + job["budget"], len(pool))
    fit_started = time.perf_counter()
    learner = ActiveLearner(estimator=LogisticRegression(**job["lr_params"]), query_strategy=MODAL[name],
                            X_training=X[initial], y_training=y[initial])
    fit_s = time.perf_counter() - fit_started
    labeled = len(initial)
    unlabeled = np.setdiff1d(pool, initial)
    out = {"labels": [], "accuracy": [], "macro_f1": [], "fit_s": [], "query_s": [], "seconds": []}
    while True:
        started = time.perf_counter()
        accuracy, macro_f1 = _metrics(learner.estimator, X[test], y[test])
        evaluate_s = time.perf_counter() - started
        out["labels"].append(labeled)
        out["accuracy"].append(accuracy)
        out["macro_f1"].append(macro_f1)
        if labeled >= target or not len(unlabeled):
            out["fit_s"].append(fit_s)
            out["query_s"].append(0.0)
            out["seconds"].append(fit_s + evaluate_s)
            break
        count = min(job["batch"], target - labeled)
        started = time.perf_counter()
        query_index, _ = learner.query(X[unlabeled], n_instances=count)
        query_s = time.perf_counter() - started
        chosen = unlabeled[np.asarray(query_index)]
        out["fit_s"].append(fit_s)
        out["query_s"].append(query_s)
        out["seconds"].append(fit_s + query_s + evaluate_s)
        started = time.perf_counter()
        learner.teach(X[chosen], y[chosen])  # refits on every label so far
        fit_s = time.perf_counter() - started
        labeled += len(chosen)
        unlabeled = np.setdiff1d(unlabeled, chosen)
    return out


def run_small_text(name, X, y, split, job, num_classes) -> dict:
    pool, test, initial = (np.asarray(split[key]) for key in ("pool", "test", "initial"))
    target = min(job["initial"] + job["budget"], len(pool))
    X_pool, y_pool = X[pool], y[pool]
    position = np.searchsorted(pool, initial)
    dataset = SklearnDataset(X_pool, y_pool, target_labels=np.arange(num_classes))
    factory = SklearnClassifierFactory(LogisticRegression(**job["lr_params"]), num_classes)
    learner = PoolBasedActiveLearner(factory, SMALL_TEXT[name](), dataset)
    started = time.perf_counter()
    learner.initialize_data(position, y_pool[position])
    fit_s = time.perf_counter() - started
    labeled = len(initial)
    out = {"labels": [], "accuracy": [], "macro_f1": [], "fit_s": [], "query_s": [], "seconds": []}
    while True:
        started = time.perf_counter()
        # The sklearn model itself: small-text's SklearnClassifier.predict maps argmax
        # positions, which are not class ids while some class is still unseen.
        accuracy, macro_f1 = _metrics(learner.classifier.model, X[test], y[test])
        evaluate_s = time.perf_counter() - started
        out["labels"].append(labeled)
        out["accuracy"].append(accuracy)
        out["macro_f1"].append(macro_f1)
        if labeled >= target or labeled >= len(pool):
            out["fit_s"].append(fit_s)
            out["query_s"].append(0.0)
            out["seconds"].append(fit_s + evaluate_s)
            break
        count = min(job["batch"], target - labeled)
        started = time.perf_counter()
        queried = learner.query(num_samples=count)
        query_s = time.perf_counter() - started
        out["fit_s"].append(fit_s)
        out["query_s"].append(query_s)
        out["seconds"].append(fit_s + query_s + evaluate_s)
        started = time.perf_counter()
        learner.update(y_pool[queried])  # retrains from scratch on every label so far
        fit_s = time.perf_counter() - started
        labeled += len(queried)
    return out


def curves(job: dict) -> dict:
    X = load_matrix(job["features"])
    y = np.load(job["labels"])
    num_classes = int(y.max()) + 1
    result = {}
    for name in job["strategies"]:
        runs = []
        for split in job["splits"]:
            if name in MODAL:
                runs.append(run_modal(name, X, y, split, job))
            else:
                runs.append(run_small_text(name, X, y, split, job, num_classes))
        result[name] = runs
        print(f"reference {name}: done", file=sys.stderr, flush=True)
    return result


def _fitted(job: dict) -> LogisticRegression:
    model = LogisticRegression(**job["lr_params"])
    model.coef_ = np.load(job["coef"])
    model.intercept_ = np.asarray(job["intercept"], dtype=float)
    model.classes_ = np.asarray(job["classes"])
    model.n_features_in_ = model.coef_.shape[1]
    model.n_iter_ = np.array([0])
    return model


def serve_queries(job: dict) -> None:
    X = load_matrix(job["features"])
    model = _fitted(job)
    n, k = X.shape[0], job["n_instances"]
    learner = ActiveLearner(estimator=model, query_strategy=margin_sampling)  # no X_training: no fit
    classifier = SklearnClassifier(model, len(model.classes_))
    dataset = SklearnDataset(X, np.zeros(n, dtype=int), target_labels=np.arange(len(model.classes_)))
    unlabeled, none = np.arange(n), np.empty(0, dtype=int)

    def predict_proba():
        model.predict_proba(X)

    queries = {
        "modal_margin_sampling": lambda: margin_sampling(model, X, n_instances=k)[0],
        "modal_learner_query": lambda: learner.query(X, n_instances=k)[0],
        "predict_proba": predict_proba,
        "smalltext_breaking_ties": lambda: BreakingTies().query(classifier, dataset, unlabeled, none, none, n=k),
        "smalltext_least_confidence": lambda: LeastConfidence().query(classifier, dataset, unlabeled, none, none, n=k),
    }
    replies, sys.stdout = sys.stdout, sys.stderr  # a stray print from a library must not break the protocol
    for line in sys.stdin:
        name = line.strip()
        if name == "meta":
            replies.write(json.dumps(_meta()) + "\n")
        else:
            started = time.perf_counter()
            chosen = queries[name]()
            seconds = time.perf_counter() - started
            picked = [] if chosen is None else np.sort(np.asarray(chosen)).tolist()
            replies.write(json.dumps({"s": seconds, "chosen": picked}) + "\n")
        replies.flush()


def _meta() -> dict:
    return {"python": sys.version.split()[0], "modAL-python": version("modAL-python"),
            "small-text": version("small-text"), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "blas": [f"{i['filepath'].rsplit('/', 1)[-1]}: {i['num_threads']} thread(s)"
                     for i in threadpool_info() if i["user_api"] == "blas"]}


def main() -> None:
    job = json.loads(open(sys.argv[1]).read())
    if job["mode"] == "query":
        serve_queries(job)
        return
    started = time.perf_counter()
    result = curves(job)
    meta = {**_meta(), "wall_s": round(time.perf_counter() - started, 2)}
    with open(sys.argv[2], "w") as handle:
        json.dump({"meta": meta, "result": result}, handle)


if __name__ == "__main__":
    main()
