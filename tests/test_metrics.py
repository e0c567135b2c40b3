"""The paper's metrics (accuracy, per-class, weighted and macro F1) with bootstrap intervals."""
from __future__ import annotations

import numpy as np
import pytest

from sadutils import metrics
from sadutils.metrics import (CI_METRICS, bootstrap_ci, classification_metrics,
                              evaluate_predictions)

S, O = "sadness", "others"

# 4 sadness, 6 others. Sadness: TP 3, FP 2, FN 1 -> F1 = 6/9. Others: TP 4, FP 1, FN 2 -> F1 = 8/11.
Y_TRUE = [S, S, S, S, O, O, O, O, O, O]
Y_PRED = [S, S, S, O, O, O, O, O, S, S]
EXPECTED = {
    "accuracy": 7 / 10,
    "f1_sadness": 2 / 3,
    "f1_others": 8 / 11,
    "f1_weighted": (4 * 2 / 3 + 6 * 8 / 11) / 10,  # support-weighted mean of the class F1s
    "f1_macro": (2 / 3 + 8 / 11) / 2,
}


def _to_index(labels):
    return np.array([0 if v == S else 1 for v in labels])


def test_hand_computed_case_with_names():
    m = classification_metrics(Y_TRUE, Y_PRED)
    for key, value in EXPECTED.items():
        assert m[key] == pytest.approx(value, abs=1e-12), key
    assert m["n"] == 10
    assert m["labels"] == [S, O]
    # rows: true sadness, true others; columns: predicted sadness, predicted others
    assert m["confusion_matrix"] == [[3, 1], [2, 4]]


def test_weighted_differs_from_macro_and_is_the_support_weighted_mean():
    m = classification_metrics(Y_TRUE, Y_PRED)
    assert m["f1_weighted"] != pytest.approx(m["f1_macro"])
    support = np.array([4, 6])
    assert m["f1_weighted"] == pytest.approx(
        (support * [m["f1_sadness"], m["f1_others"]]).sum() / support.sum())


def test_integer_labels_give_the_same_metrics():
    by_name = classification_metrics(Y_TRUE, Y_PRED)
    by_index = classification_metrics(_to_index(Y_TRUE), _to_index(Y_PRED))
    by_list = classification_metrics(list(_to_index(Y_TRUE)), list(_to_index(Y_PRED)))
    assert by_index == by_name == by_list
    mixed = classification_metrics(Y_TRUE, _to_index(Y_PRED).astype(np.uint8))
    assert mixed == by_name


def test_confusion_matrix_follows_class_names_order():
    m = classification_metrics(Y_TRUE, Y_PRED, class_names=(O, S))
    assert m["labels"] == [O, S]
    assert m["confusion_matrix"] == [[4, 2], [1, 3]]
    assert m["f1_sadness"] == pytest.approx(2 / 3) and m["f1_others"] == pytest.approx(8 / 11)
    # integer labels index into class_names: 0 is now "others"
    assert classification_metrics([0, 1], [0, 0], class_names=(O, S))["confusion_matrix"] == \
        [[1, 0], [1, 0]]


def test_all_predicted_one_class():
    m = classification_metrics([S, O, O, O], [O, O, O, O])
    assert m["f1_sadness"] == 0.0
    assert m["f1_others"] == pytest.approx(2 * 3 / (2 * 3 + 1))
    assert m["accuracy"] == pytest.approx(3 / 4)
    assert m["f1_weighted"] == pytest.approx(3 / 4 * 6 / 7)
    assert m["f1_macro"] == pytest.approx(3 / 7)
    assert m["confusion_matrix"] == [[0, 1], [0, 3]]


def test_class_absent_from_both_arrays():
    m = classification_metrics([O, O, O], [O, O, O])
    assert m["f1_sadness"] == 0.0 and m["f1_others"] == 1.0
    assert m["accuracy"] == 1.0
    assert m["f1_weighted"] == 1.0  # a class without support weighs nothing
    assert m["f1_macro"] == 0.5
    assert m["confusion_matrix"] == [[0, 0], [0, 3]]


def test_perfect_and_all_wrong():
    perfect = classification_metrics(Y_TRUE, Y_TRUE)
    assert all(perfect[k] == 1.0 for k in EXPECTED)
    flipped = [O if v == S else S for v in Y_TRUE]
    wrong = classification_metrics(Y_TRUE, flipped)
    assert all(wrong[k] == 0.0 for k in EXPECTED)


def test_unknown_labels_fail_clearly():
    with pytest.raises(ValueError, match=r"unknown labels \['happy'\].*sadness.*others"):
        classification_metrics([S, "happy"], [S, O])
    with pytest.raises(ValueError, match="unknown labels"):
        classification_metrics([S, O], [S, "Sadness"])  # names are case-sensitive
    with pytest.raises(ValueError, match=r"class index out of range 0\.\.1"):
        classification_metrics([0, 2], [0, 1])
    with pytest.raises(ValueError, match="class index out of range"):
        classification_metrics([0, -1], [0, 1])
    with pytest.raises(ValueError, match="unknown labels"):
        bootstrap_ci([S, "joy"], [S, O])


def test_length_mismatch_and_empty():
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        classification_metrics([S, O, O], [S, O])
    with pytest.raises(ValueError, match="no labels"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        bootstrap_ci([S, O, O], [S, O])
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 3"):
        bootstrap_ci([S, O], [S, O, O])
    with pytest.raises(ValueError, match="no labels"):
        bootstrap_ci([], [])


def _random_case(n=300, seed=3):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.75, true, 1 - true)  # about 75% right
    return true, pred


def test_bootstrap_is_deterministic_with_a_seed_and_contains_the_estimate():
    true, pred = _random_case()
    a = bootstrap_ci(true, pred, n_boot=400, seed=11)
    b = bootstrap_ci(true, pred, n_boot=400, seed=11)
    c = bootstrap_ci(true, pred, n_boot=400, seed=12)
    assert a == b
    assert a != c
    assert set(a) == set(CI_METRICS)
    point = classification_metrics(true, pred)
    for key in CI_METRICS:
        low, high = a[key]
        assert 0.0 <= low <= point[key] <= high <= 1.0, (key, low, point[key], high)
        assert high - low < 0.25  # 300 samples: a few points wide, not degenerate
        assert high > low
    # names and indices resample the same way
    names = np.array([S, O])
    assert bootstrap_ci(names[true], names[pred], n_boot=400, seed=11) == a


def test_bootstrap_f1_matches_sklearn_on_each_resample():
    """The vectorised per-resample F1 equals classification_metrics on the same resample."""
    true, pred = _random_case(n=60, seed=5)
    n_boot = 5
    ci = bootstrap_ci(true, pred, n_boot=n_boot, seed=2, level=0.0)  # level 0: the median
    idx = np.random.default_rng(2).integers(0, len(true), size=(n_boot, len(true)))
    per_resample = [classification_metrics(true[i], pred[i]) for i in idx]
    for key in CI_METRICS:
        median = float(np.median([m[key] for m in per_resample]))
        assert ci[key][0] == pytest.approx(median) and ci[key][1] == pytest.approx(median), key


def test_level_widens_interval_and_evaluate_predictions_pairs_both():
    true, pred = _random_case()
    narrow = bootstrap_ci(true, pred, n_boot=300, seed=0, level=0.5)
    wide = bootstrap_ci(true, pred, n_boot=300, seed=0, level=0.99)
    for key in CI_METRICS:
        assert wide[key][0] <= narrow[key][0] and narrow[key][1] <= wide[key][1]
    metrics, ci = evaluate_predictions(true, pred, n_boot=300, seed=0)
    assert metrics == classification_metrics(true, pred)
    assert ci == bootstrap_ci(true, pred, n_boot=300, seed=0)


def test_other_class_names_name_the_per_class_scores():
    """The text classifier's classes: the per-class keys follow the names given."""
    true, pred = _random_case(n=80, seed=9)
    names = ("text", "no_text")
    m = classification_metrics(true, pred, class_names=names)
    assert m["labels"] == ["text", "no_text"]
    assert "f1_text" in m and "f1_no_text" in m and "f1_sadness" not in m
    assert m["f1_text"] == classification_metrics(true, pred)["f1_sadness"]
    ci = bootstrap_ci(true, pred, class_names=names, n_boot=50, seed=1)
    assert set(ci) == {"accuracy", "f1_weighted", "f1_macro", "f1_text", "f1_no_text"}


# ---------------------------------------------------------------------------- seeds, tests, calibration

def test_bootstrap_ci_of_mean_with_one_model_is_bootstrap_ci():
    rng = np.random.default_rng(5)
    y = rng.choice(["sadness", "others"], 200)
    p = np.where(rng.random(200) < 0.7, y, rng.choice(["sadness", "others"], 200))
    assert metrics.bootstrap_ci_of_mean(y, [p], seed=3) == metrics.bootstrap_ci(y, p, seed=3)


def test_bootstrap_ci_of_mean_is_centred_on_the_mean_of_models():
    rng = np.random.default_rng(6)
    y = rng.choice(["sadness", "others"], 400)
    good = np.where(rng.random(400) < 0.9, y, np.where(y == "sadness", "others", "sadness"))
    poor = np.where(rng.random(400) < 0.6, y, np.where(y == "sadness", "others", "sadness"))
    ci = metrics.bootstrap_ci_of_mean(y, [good, poor], seed=0)["accuracy"]
    mean_acc = (np.mean(good == y) + np.mean(poor == y)) / 2
    assert ci[0] < mean_acc < ci[1]
    assert ci[1] - ci[0] < 0.1  # 400 images: a few points either side
    with pytest.raises(ValueError, match="no predictions"):
        metrics.bootstrap_ci_of_mean(y, [])


def test_mcnemar_exact_on_a_hand_counted_case():
    # 10 images: A right on all, B wrong on 8 of them -> b = 8, c = 0
    y = np.array(["sadness"] * 10)
    a = y.copy()
    b = np.array(["others"] * 8 + ["sadness"] * 2)
    test = metrics.mcnemar_exact(y, a, b)
    assert (test["a_only"], test["b_only"], test["n"]) == (8, 0, 10)
    assert test["p_value"] == pytest.approx(2 * 0.5 ** 8)  # two-sided binomial, 0 of 8
    # symmetric in the models, and no disagreement on correctness means p = 1
    assert metrics.mcnemar_exact(y, b, a)["p_value"] == pytest.approx(test["p_value"])
    assert metrics.mcnemar_exact(y, a, a)["p_value"] == 1.0
    with pytest.raises(ValueError, match="one length"):
        metrics.mcnemar_exact(y, a, b[:3])


def test_holm_adjustment():
    adjusted = metrics.holm([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1, made monotone
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert metrics.holm([0.9, 0.8]).max() <= 1.0


def test_calibration_of_a_perfect_and_an_overconfident_model():
    y = np.array(["sadness"] * 30 + ["others"] * 70)
    fair = np.full(100, 0.3)  # says 30 % everywhere, and 30 % are sad
    cal = metrics.calibration(y, fair)
    assert cal["ece"] == pytest.approx(0.0, abs=1e-12)
    assert cal["brier"] == pytest.approx(0.3 * 0.7 ** 2 + 0.7 * 0.3 ** 2)
    assert sum(b["n"] for b in cal["bins"]) == 100
    sure = np.where(y == "sadness", 0.95, 0.05)
    sure[:10] = 0.05  # ten sad images called 5 % sad: confidently wrong
    over = metrics.calibration(y, sure)
    assert over["ece"] > 0.05
    low = next(b for b in over["bins"] if b["high"] <= 0.1)
    assert low["share_positive"] == pytest.approx(10 / 80)
    with pytest.raises(ValueError, match="within 0..1"):
        metrics.calibration(y, np.full(100, 1.5))
