"""sadutils.analysis.prior_shift on FAKE prediction tables with known numbers, and the one
property that makes the sweep trustworthy: it draws exactly what notebook 04 would test on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sadutils.analysis import prior_shift
from sadutils.config import CLASS_NAMES
from sadutils.data.loaders import load_dataset
from sadutils.experiments.cross_dataset import build_eval_set
from sadutils.metrics import classification_metrics


@pytest.fixture
def known(fake_predictions):
    """10 sadness images, 8 called sadness (recall 0.8); 30 others, 3 called sadness
    (specificity 0.9); the set is 25% sadness."""
    return fake_predictions([("sad", "sadness", 10, 8), ("other", "others", 30, 3)])


def test_class_rates(known):
    rates = prior_shift.class_rates(known)
    assert (rates.n_sadness, rates.n_others) == (10, 30)
    assert rates.recall == pytest.approx(0.8) and rates.specificity == pytest.approx(0.9)
    assert rates.prior == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both classes.*0 sadness, 30 others"):
        prior_shift.class_rates(known[known["label"] == "others"])


def test_expected_metrics_by_hand():
    got = prior_shift.expected_metrics(0.8, 0.9, 0.25)
    # TP .2, FN .05, FP .075, TN .675
    assert got["accuracy"] == pytest.approx(0.875)
    assert got["f1_sadness"] == pytest.approx(0.4 / 0.525)
    assert got["f1_others"] == pytest.approx(1.35 / (1.35 + 0.125))
    assert got["f1_weighted"] == pytest.approx(0.25 * 0.4 / 0.525 + 0.75 * 1.35 / 1.475)
    half = prior_shift.expected_metrics(0.8, 0.9, 0.5)
    assert half["accuracy"] == pytest.approx(0.85)
    assert half["f1_sadness"] == pytest.approx(0.8 / 0.95)
    curve = prior_shift.expected_metrics(0.8, 0.9, np.array([0.0, 1.0]))
    assert curve["accuracy"] == pytest.approx([0.9, 0.8])
    assert curve["f1_sadness"][0] == 0.0  # no sadness image, none found: F1 0, no NaN


def test_at_the_sets_own_ratio_expected_equals_measured(known):
    measured = classification_metrics(known["label"], known["pred"], CLASS_NAMES)
    rates = prior_shift.class_rates(known)
    expected = prior_shift.expected_metrics(rates.recall, rates.specificity, rates.prior)
    for metric in prior_shift.SHIFT_METRICS:
        assert expected[metric] == pytest.approx(measured[metric])


def test_ratio_sweep(known):
    sweep = prior_shift.ratio_sweep(known, [0.5, 0.2], seed=3)
    assert sweep["sadness_fraction"].isna().tolist() == [True, False, False]
    natural, half, fifth = (sweep.iloc[i] for i in range(3))
    assert (natural["n"], natural["sadness_share"]) == (40, 0.25)
    assert natural["accuracy"] == pytest.approx(0.875)
    assert natural["expected_accuracy"] == pytest.approx(0.875)
    # 0.5: every sadness image kept, 10 of the 30 others drawn
    assert (half["n_sadness"], half["n_others"]) == (10, 10)
    assert half["expected_accuracy"] == pytest.approx(0.85)
    # 0.2: 30 others kept, sadness cut to round(30 * 0.2 / 0.8) = 8
    assert (fifth["n_sadness"], fifth["n_others"]) == (8, 30)
    # the measured values are those of the drawn subset
    subset = prior_shift.ratio_subset(known, 0.5, seed=3)
    assert half["accuracy"] == pytest.approx((subset["label"] == subset["pred"]).mean())
    # the draw depends on the seed and the set of rows, not on their order
    shuffled = prior_shift.ratio_subset(known.sample(frac=1, random_state=1), 0.5, seed=3)
    assert shuffled["path"].tolist() == subset["path"].tolist()
    assert prior_shift.ratio_subset(known, 0.5, seed=4)["path"].tolist() != \
        subset["path"].tolist()
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        prior_shift.ratio_sweep(known, [1.5], seed=3)


def test_expected_curve(known):
    curve = prior_shift.expected_curve(known, [0.25, 0.5])
    assert curve["accuracy"].tolist() == pytest.approx([0.875, 0.85])
    assert len(prior_shift.expected_curve(known)) == 101


def test_drop_decomposition_by_hand(fake_predictions):
    # WEBEmo-like source: 50% sadness, recall 0.8, specificity 0.8 -> accuracy 0.8
    source = fake_predictions([("s", "sadness", 10, 8), ("o", "others", 10, 2)])
    # other set: 25% sadness, recall 0.6, specificity 0.9 -> accuracy 0.825
    target = fake_predictions([("s", "sadness", 10, 6), ("o", "others", 30, 3)])
    d = prior_shift.drop_decomposition(source, target)
    assert d["accuracy_source"] == pytest.approx(0.8)
    assert d["accuracy_target"] == pytest.approx(0.825)
    assert d["accuracy_target_at_source_prior"] == pytest.approx(0.75)
    assert d["accuracy_drop"] == pytest.approx(-0.025)
    assert d["accuracy_images"] == pytest.approx(0.05)   # the other images cost 5 points
    assert d["accuracy_prior"] == pytest.approx(-0.075)  # the rarer sadness gains 7.5
    for m in ("accuracy", "f1_weighted"):
        assert d[f"{m}_drop"] == pytest.approx(d[f"{m}_images"] + d[f"{m}_prior"])
    table = prior_shift.drop_table({"A": source, "B": source},
                                   {"unbiasedemo": {"A": target, "C": target}})
    assert table[["dataset", "model"]].values.tolist() == [["unbiasedemo", "A"]]
    with pytest.raises(ValueError, match="unknown metric"):
        prior_shift.drop_decomposition(source, target, metrics=["recall"])


def test_the_sweep_draws_what_notebook_04_would_test_on(tiny_demo_dir, demo_ws):
    """Saved predictions of the whole set, redrawn at a fraction, hold exactly the images
    build_eval_set (notebook 04 with that sadness_fraction) would have tested."""
    root = tiny_demo_dir / "unbiasedemo"
    whole = load_dataset("unbiasedemo", root, check=False).manifest
    saved = whole.assign(pred="sadness", p_sadness=0.6, p_others=0.4)  # FAKE predictions
    for fraction in (0.5, 0.2):
        drawn = prior_shift.ratio_subset(saved, fraction, seed=11)
        built = build_eval_set(demo_ws, "unbiasedemo", root, sadness_fraction=fraction,
                               seed=11, check=False)
        assert drawn["path"].tolist() == built.manifest["path"].tolist()
        assert isinstance(drawn, pd.DataFrame) and len(drawn) < len(whole)
