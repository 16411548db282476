"""Stopping criteria, checked against histories worked out by hand."""
import pytest

from activelearning.stopping import DEFAULT_STOPPING, evaluate_stopping, validate_stopping_config


def rnd(labels=0, accuracy=None, macro_f1=None, per_class=None, train=None, kappa=None, elapsed=0.0) -> dict:
    metrics = {}
    if accuracy is not None:
        metrics["accuracy"] = accuracy
    if macro_f1 is not None:
        metrics["macro_f1"] = macro_f1
    if per_class is not None:
        metrics["per_class"] = per_class
    return {"labels_used": labels, "metrics": metrics, "train_accuracy": train, "stability_kappa": kappa,
            "elapsed_seconds": elapsed}


def criterion(result: dict, key: str) -> dict:
    return next(c for c in result["criteria"] if c["key"] == key)


def test_no_config_means_no_criteria_and_no_advice():
    result = evaluate_stopping([rnd(10, accuracy=0.99)], {})
    assert result == {"recommend_stop": False, "fired": [], "criteria": []}
    assert evaluate_stopping([], None)["recommend_stop"] is False


def test_an_accuracy_target_fires_when_reached_with_a_sentence_saying_so():
    config = {"target": {"accuracy": 0.95}}
    below = evaluate_stopping([rnd(10, accuracy=0.9), rnd(20, accuracy=0.94)], config)
    assert below["recommend_stop"] is False
    assert criterion(below, "target.accuracy")["message"] == "Accuracy 0.94 < target 0.95 on the evaluation split."

    reached = evaluate_stopping([rnd(10, accuracy=0.9), rnd(20, accuracy=0.96)], config)
    assert reached["recommend_stop"] is True
    assert reached["fired"] == ["target.accuracy"]
    c = criterion(reached, "target.accuracy")
    assert (c["label"], c["fired"], c["value"], c["threshold"]) == ("Target accuracy", True, 0.96, 0.95)
    assert c["message"] == "Accuracy 0.96 ≥ target 0.95 on the evaluation split."


def test_the_target_is_met_exactly_at_the_threshold():
    assert evaluate_stopping([rnd(10, macro_f1=0.9)], {"target": {"macro_f1": 0.9}})["fired"] == ["target.macro_f1"]


def test_precision_and_recall_targets_use_the_macro_average_of_per_class():
    per_class = {
        "negative": {"precision": 0.8, "recall": 1.0, "support": 10},
        "positive": {"precision": 1.0, "recall": 0.7, "support": 10},
    }
    # precision (0.8 + 1.0) / 2 = 0.9; recall (1.0 + 0.7) / 2 = 0.85
    result = evaluate_stopping([rnd(40, accuracy=0.85, per_class=per_class)],
                               {"target": {"precision": 0.9, "recall": 0.9}})
    assert criterion(result, "target.precision")["value"] == pytest.approx(0.9)
    assert criterion(result, "target.precision")["fired"] is True
    assert criterion(result, "target.recall")["value"] == pytest.approx(0.85)
    assert criterion(result, "target.recall")["fired"] is False
    assert result["fired"] == ["target.precision"]


def test_a_target_without_metrics_does_not_fire():
    result = evaluate_stopping([rnd(10)], {"target": {"accuracy": 0.5}})
    c = criterion(result, "target.accuracy")
    assert (c["fired"], c["value"]) == (False, None)
    assert "No accuracy on the evaluation split yet" in c["message"]


def test_plateau_needs_one_round_more_than_its_window():
    config = {"plateau": {"epsilon": 0.005, "rounds": 3, "metric": "accuracy"}}
    history = [rnd(10, accuracy=0.80), rnd(20, accuracy=0.801), rnd(30, accuracy=0.802)]
    c = criterion(evaluate_stopping(history, config), "plateau")
    assert (c["fired"], c["value"]) == (False, None)
    assert c["message"] == "Needs accuracy from 4 rounds; 3 so far."


def test_plateau_fires_when_the_last_rounds_improve_less_than_epsilon():
    config = {"plateau": {"epsilon": 0.005, "rounds": 3}}
    # Best of the last three (0.804) minus the round before them (0.80) = 0.004 < 0.005.
    flat = [rnd(10, accuracy=0.70), rnd(20, accuracy=0.80), rnd(30, accuracy=0.802),
            rnd(40, accuracy=0.804), rnd(50, accuracy=0.803)]
    c = criterion(evaluate_stopping(flat, config), "plateau")
    assert c["fired"] is True
    assert c["value"] == pytest.approx(0.004)
    assert c["message"] == "Accuracy improved by only 0.004 over the last 3 rounds (< 0.005)."

    # 0.82 - 0.80 = 0.02: still learning.
    rising = flat[:-1] + [rnd(50, accuracy=0.82)]
    c = criterion(evaluate_stopping(rising, config), "plateau")
    assert (c["fired"], c["value"]) == (False, pytest.approx(0.02))


def test_a_dip_and_recovery_counts_as_no_improvement():
    config = {"plateau": {"epsilon": 0.01, "rounds": 2, "metric": "macro_f1"}}
    # max(0.70, 0.75) - 0.75 = 0
    history = [rnd(10, macro_f1=0.75), rnd(20, macro_f1=0.70), rnd(30, macro_f1=0.75)]
    c = criterion(evaluate_stopping(history, config), "plateau")
    assert (c["fired"], c["value"]) == (True, 0.0)


def test_plateau_skips_rounds_without_the_metric():
    config = {"plateau": {"epsilon": 0.005, "rounds": 1}}
    history = [rnd(0), rnd(10, accuracy=0.8), rnd(20), rnd(30, accuracy=0.802)]
    c = criterion(evaluate_stopping(history, config), "plateau")
    assert (c["fired"], c["value"]) == (True, pytest.approx(0.002))


def test_budgets_fire_on_labels_and_on_time_separately():
    config = {"budget": {"labels": 500, "seconds": 3600}}
    result = evaluate_stopping([rnd(100, elapsed=0), rnd(500, elapsed=1800.4)], config)
    assert result["fired"] == ["budget.labels"]
    assert criterion(result, "budget.labels")["message"] == "500 of 500 labels used: budget reached."
    assert criterion(result, "budget.seconds")["message"] == "1800 of 3600 seconds since the first round: budget not reached."

    late = evaluate_stopping([rnd(100, elapsed=0), rnd(200, elapsed=3600)], config)
    assert late["fired"] == ["budget.seconds"]
    assert criterion(late, "budget.labels")["value"] == 200


def test_stability_needs_kappa_above_threshold_for_consecutive_rounds():
    config = {"stability": {"kappa": 0.99, "rounds": 2}}
    one = evaluate_stopping([rnd(10), rnd(20, kappa=0.995)], config)
    assert criterion(one, "stability")["fired"] is False  # the first round has no kappa

    stable = evaluate_stopping([rnd(10), rnd(20, kappa=0.995), rnd(30, kappa=0.992)], config)
    c = criterion(stable, "stability")
    assert (c["fired"], c["value"]) == (True, 0.992)
    assert c["message"] == ("Predictions are stable: kappa with the previous model ≥ 0.99 for the last 2 rounds "
                            "(lowest 0.992).")

    broken = evaluate_stopping([rnd(10, kappa=0.999), rnd(20, kappa=0.95), rnd(30, kappa=0.999)], config)
    c = criterion(broken, "stability")
    assert (c["fired"], c["value"]) == (False, 0.95)


def test_overfitting_is_a_warning_that_recommends_stopping():
    config = {"overfitting": {"gap": 0.15}}
    # 0.99 - 0.80 = 0.19 > 0.15
    result = evaluate_stopping([rnd(50, accuracy=0.80, train=0.99)], config)
    c = criterion(result, "overfitting")
    assert c["fired"] is True and c["warning"] is True
    assert c["value"] == pytest.approx(0.19)
    assert result["recommend_stop"] is True
    assert c["message"].startswith("Warning: training accuracy 0.99 is 0.19 above the evaluation accuracy 0.8")

    # 0.90 - 0.80 = 0.10
    fine = evaluate_stopping([rnd(50, accuracy=0.80, train=0.90)], config)
    assert criterion(fine, "overfitting")["fired"] is False
    missing = evaluate_stopping([rnd(50, accuracy=0.80)], config)
    assert criterion(missing, "overfitting")["value"] is None


def test_thresholds_hold_as_written_despite_float_rounding():
    # 0.9 - 0.7 = 0.20000000000000007 in floats: a gap of exactly 0.2 is no overfitting.
    assert evaluate_stopping([rnd(10, accuracy=0.7, train=0.9)], {"overfitting": {"gap": 0.2}})["fired"] == []
    # 0.1 + 0.2 = 0.30000000000000004, 0.7 + 0.2 = 0.8999999999999999: the target is met.
    assert evaluate_stopping([rnd(10, accuracy=0.7 + 0.2)], {"target": {"accuracy": 0.9}})["fired"] == ["target.accuracy"]
    # An improvement of 0.805 - 0.8 = 0.0050000000000000044 is not below 0.005.
    history = [rnd(10, accuracy=0.8), rnd(20, accuracy=0.805)]
    assert evaluate_stopping(history, {"plateau": {"epsilon": 0.005, "rounds": 1}})["fired"] == []


def test_every_fired_criterion_is_listed_in_a_fixed_order():
    config = {"target": {"accuracy": 0.9}, "budget": {"labels": 30}, "overfitting": {"gap": 0.05}}
    result = evaluate_stopping([rnd(30, accuracy=0.9, train=1.0)], config)
    assert result["fired"] == ["target.accuracy", "budget.labels", "overfitting"]
    assert [c["key"] for c in result["criteria"]] == ["target.accuracy", "budget.labels", "overfitting"]


def test_the_default_config_is_plateau_stability_and_overfitting():
    assert validate_stopping_config(DEFAULT_STOPPING) == {
        "plateau": {"epsilon": 0.005, "rounds": 3, "metric": "accuracy"},
        "stability": {"kappa": 0.99, "rounds": 2},
        "overfitting": {"gap": 0.2},
    }
    result = evaluate_stopping([rnd(10, accuracy=0.5)], DEFAULT_STOPPING)
    assert [c["key"] for c in result["criteria"]] == ["plateau", "stability", "overfitting"]
    assert result["recommend_stop"] is False


def test_validation_cleans_fills_defaults_and_drops_nulls():
    clean = validate_stopping_config({
        "target": {"accuracy": 1, "recall": None},
        "plateau": {"rounds": 5.0},
        "budget": {"labels": 200},
        "stability": None,
        "drift": {},
    })
    assert clean == {
        "target": {"accuracy": 1.0},
        "plateau": {"epsilon": 0.005, "rounds": 5, "metric": "accuracy"},
        "budget": {"labels": 200},
        "drift": {"threshold": 0.15},
    }
    assert validate_stopping_config(None) == {}
    assert validate_stopping_config({"target": {}, "budget": {"labels": None}}) == {}


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "stopping must be an object"),
        ({"patience": {}}, "stopping.patience is not a known criterion"),
        ({"target": 0.9}, "stopping.target must be an object"),
        ({"target": {"accuracy": 1.5}}, "stopping.target.accuracy must be a number between 0 and 1"),
        ({"target": {"accuracy": "0.9"}}, "stopping.target.accuracy must be a number between 0 and 1"),
        ({"target": {"accuracy": True}}, "stopping.target.accuracy must be a number between 0 and 1"),
        ({"target": {"f2": 0.5}}, "stopping.target.f2 is not a known setting"),
        ({"plateau": {"epsilon": -0.1}}, "stopping.plateau.epsilon must be a number between 0 and 1"),
        ({"plateau": {"rounds": 0}}, "stopping.plateau.rounds must be a whole number between 1 and 100"),
        ({"plateau": {"rounds": 2.5}}, "stopping.plateau.rounds must be a whole number"),
        ({"plateau": {"metric": "loss"}}, "stopping.plateau.metric must be one of"),
        ({"budget": {"labels": 0}}, "stopping.budget.labels must be a whole number"),
        ({"budget": {"seconds": float("nan")}}, "stopping.budget.seconds must be a number of seconds"),
        ({"stability": {"kappa": 2}}, "stopping.stability.kappa must be a number between -1 and 1"),
        ({"overfitting": {"gap": 1.2}}, "stopping.overfitting.gap must be a number between 0 and 1"),
        ({"drift": {"threshold": -0.01}}, "stopping.drift.threshold must be a number between 0 and 1"),
    ],
)
def test_validation_names_the_bad_field(data, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        validate_stopping_config(data)


def test_drift_settings_do_not_add_a_stopping_criterion():
    result = evaluate_stopping([rnd(10)], {"drift": {"threshold": 0.2}})
    assert result == {"recommend_stop": False, "fired": [], "criteria": []}
