"""A project's sampling settings (activelearning.config): one validation for the API, the
worker and the simulator, with messages that name the field to fix."""
import pytest

from activelearning.config import (
    DEFAULT_SAMPLING,
    ConfigError,
    default_sampling,
    default_stopping,
    strategy_params,
    target_ratios_by_id,
    validate_sampling,
)
from activelearning.strategies import STRATEGIES

CLASSES = ["negative", "positive"]
IDS = {"negative": 11, "positive": 12}


@pytest.mark.parametrize("data, strategy, message", [
    ({"mix": "margin:0.5,random:0.3"}, None, "sampling.mix: mix fractions must sum to 1, got 0.5 + 0.3 = 0.8"),
    ({"mix": "margin:0.5,bogus:0.5"}, None, "sampling.mix: mix part 2: unknown strategy 'bogus'"),
    ({"mix": "margin"}, None, "sampling.mix: mix part 'margin' must look like strategy:fraction"),
    ({"mix": "margin:0.5,class_balanced:0.5"}, None, "sampling.mix: class_balanced cannot be a part of a mix"),
    ({"mix": "margin:0.5,mix:0.5"}, None, "sampling.mix: a mix cannot contain another mix"),
    ({"density": {"measure": "nearest"}}, None, "sampling.density.measure must be one of knn, kde, kmeans, similarity; got 'nearest'"),
    ({"density": {"combine": "max"}}, None, "sampling.density.combine must be one of"),
    ({"density": {"beta": 11}}, None, "sampling.density.beta must be between 0 and 10, got 11"),
    ({"density": {"beta": -0.5}}, None, "sampling.density.beta must be between 0 and 10"),
    ({"density": "knn"}, None, "sampling.density must be an object"),
    ({"committee_size": 1}, None, "sampling.committee_size must be between 2 and 20, got 1"),
    ({"committee_size": 2.5}, None, "sampling.committee_size must be a whole number, got 2.5"),
    ({"committee_size": True}, None, "sampling.committee_size must be a number, got True"),
    ({"committee_mode": "boosting"}, None, "sampling.committee_mode must be one of bagging, seeds"),
    ({"eer_candidates": 0}, None, "sampling.eer_candidates must be between 1 and 5000"),
    ({"exploration": 1.5}, None, "sampling.exploration must be between 0 and 1, got 1.5"),
    ({"exploration": "some"}, None, "sampling.exploration must be a number, got 'some'"),
    ({"target_ratios": {"neutral": 0.5}}, None, "sampling.target_ratios names the class 'neutral', which the project does not have"),
    ({"target_ratios": {"negative": -0.2}}, None, "sampling.target_ratios.negative must be between 0 and 1, got -0.2"),
    ({"target_ratios": {"negative": 0, "positive": 0}}, None, "sampling.target_ratios must give at least one class a fraction above 0"),
    ({"target_ratios": [0.5, 0.5]}, None, "sampling.target_ratios must map class keys to fractions"),
    ({"stream": {"mode": "sometimes"}}, None, "sampling.stream.mode must be one of off, threshold, budget"),
    ({"stream": {"threshold": 2}}, None, "sampling.stream.threshold must be between 0 and 1"),
    ({}, "mix", "sampling.mix: the strategy 'mix' needs its parts"),
    ({}, "class_balanced", "sampling.target_ratios: class-balanced sampling needs a target fraction per class"),
    ({}, "bogus", "strategy must be one of least_confidence,"),
    ({"colour": "red", "batch": 3}, None, "sampling has unknown settings: batch, colour"),
    (["margin"], None, "sampling must be an object"),
])
def test_a_bad_setting_is_refused_with_a_message_naming_the_field(data, strategy, message):
    with pytest.raises(ConfigError) as refused:
        validate_sampling(data, strategy, CLASSES)
    assert str(refused.value).startswith(message)


def test_nothing_given_means_every_default():
    assert validate_sampling(None) == DEFAULT_SAMPLING
    assert validate_sampling({}, "margin", CLASSES) == DEFAULT_SAMPLING


def test_given_settings_are_cleaned_and_the_rest_filled_with_defaults():
    clean = validate_sampling(
        {"mix": "margin:0.7, coreset:0.2, random:0.1", "density": {"measure": "knn"}, "stream": {"mode": "threshold"},
         "target_ratios": {"negative": 1}},
        "mix", CLASSES,
    )
    assert clean["mix"] == [
        {"strategy": "margin", "fraction": 0.7}, {"strategy": "coreset", "fraction": 0.2},
        {"strategy": "random", "fraction": 0.1},
    ]
    assert clean["density"] == {"measure": "knn", "combine": "multiplicative", "beta": 1.0}
    assert clean["stream"] == {"mode": "threshold", "threshold": 0.3, "rate": 0.1}
    assert clean["target_ratios"] == {"negative": 1.0}
    assert {k: clean[k] for k in ("committee_size", "committee_mode", "eer_candidates", "exploration")} == {
        "committee_size": 5, "committee_mode": "bagging", "eer_candidates": 100, "exploration": 0.0,
    }


def test_clean_settings_validate_to_themselves():
    """The project stores the clean dict and every round validates it again."""
    clean = validate_sampling(
        {"mix": "margin:0.5,coreset:0.5", "density": {"measure": "kde", "beta": 2}, "committee_size": 3,
         "target_ratios": {"positive": 0.25, "negative": 0.75}, "exploration": 0.1},
        "mix", CLASSES,
    )
    assert validate_sampling(clean, "mix", CLASSES) == clean


def test_target_ratios_are_not_checked_against_classes_when_none_are_given():
    assert validate_sampling({"target_ratios": {"cat": 0.5}})["target_ratios"] == {"cat": 0.5}


def test_a_class_balanced_strategy_with_ratios_is_accepted():
    clean = validate_sampling({"target_ratios": {"negative": 0.8, "positive": 0.2}}, "class_balanced", CLASSES)
    assert clean["target_ratios"] == {"negative": 0.8, "positive": 0.2}


def test_defaults_are_fresh_copies():
    first, second = default_sampling(), default_sampling()
    first["target_ratios"]["negative"] = 1.0
    first["stream"]["mode"] = "budget"
    assert second["target_ratios"] == {} and second["stream"]["mode"] == "off"
    assert DEFAULT_SAMPLING["target_ratios"] == {} and DEFAULT_SAMPLING["stream"]["mode"] == "off"
    stopping = default_stopping()
    stopping["plateau"]["rounds"] = 99
    assert default_stopping()["plateau"]["rounds"] != 99
    assert set(default_stopping()) == {"plateau", "stability", "overfitting", "drift"}


# From clean settings to the strategy's keyword parameters.

DENSITY = {"measure": "knn", "combine": "multiplicative", "beta": 1.0}


@pytest.mark.parametrize("strategy", ["margin", "entropy", "information_density", "class_balanced"])
def test_density_weighting_goes_to_strategies_that_accept_it(strategy):
    sampling = validate_sampling({"density": DENSITY, "target_ratios": {"negative": 1}}, strategy, CLASSES)
    assert strategy_params(strategy, sampling, IDS)["density"] == DENSITY


@pytest.mark.parametrize("strategy", ["coreset", "cluster_uncertainty"])
def test_density_weighting_is_not_passed_to_strategies_that_do_not_accept_it(strategy):
    sampling = validate_sampling({"density": DENSITY}, strategy, CLASSES)
    params = strategy_params(strategy, sampling, IDS)
    assert "density" not in params
    # What is passed is something the strategy takes: selecting must not refuse it.
    assert set(params) <= set(STRATEGIES[strategy].params)


def test_a_mix_gets_its_parts_and_no_density():
    sampling = validate_sampling({"mix": "margin:0.6,random:0.4", "density": DENSITY}, "mix", CLASSES)
    assert strategy_params("mix", sampling, IDS) == {
        "parts": [{"strategy": "margin", "fraction": 0.6}, {"strategy": "random", "fraction": 0.4}],
    }


@pytest.mark.parametrize("strategy", ["eer_log_loss", "eer_zero_one"])
def test_expected_error_reduction_gets_its_candidate_count(strategy):
    sampling = validate_sampling({"eer_candidates": 40}, strategy, CLASSES)
    assert strategy_params(strategy, sampling, IDS) == {"candidates": 40}


def test_plain_strategies_get_no_parameters():
    assert strategy_params("margin", validate_sampling({}), IDS) == {}
    assert strategy_params("coreset", validate_sampling({}), IDS) == {}


def test_target_ratios_are_keyed_by_class_id():
    sampling = validate_sampling({"target_ratios": {"negative": 0.7, "positive": 0.3}}, "class_balanced", CLASSES)
    assert target_ratios_by_id(sampling, IDS) == {11: 0.7, 12: 0.3}
    assert target_ratios_by_id(validate_sampling({}), IDS) is None
    # A class removed since the ratios were saved is dropped, not an error.
    assert target_ratios_by_id({"target_ratios": {"gone": 0.5, "positive": 0.5}}, IDS) == {12: 0.5}
    assert target_ratios_by_id({"target_ratios": {"gone": 0.5}}, IDS) is None
