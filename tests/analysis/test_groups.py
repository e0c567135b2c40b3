"""sadutils.analysis.groups: shares called sadness per group, checked against hand-computed
numbers on FAKE prediction tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sadutils.analysis import groups

Z95 = 1.959963984540054


def _wilson_by_hand(k, n, z=Z95):
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(3, 4), (0, 3), (5, 5), (17, 40), (1, 1)])
def test_wilson_interval_matches_the_formula(k, n):
    low, high = groups.wilson_interval(k, n)
    want = _wilson_by_hand(k, n)
    assert low == pytest.approx(max(want[0], 0.0), abs=1e-9)
    assert high == pytest.approx(min(want[1], 1.0), abs=1e-9)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_known_values_and_errors():
    # 3 of 4: (0.3006, 0.9544), worked out by hand from the formula
    assert groups.wilson_interval(3, 4) == pytest.approx((0.30064, 0.95441), abs=1e-4)
    assert groups.wilson_interval(0, 3)[0] == 0.0
    narrow = groups.wilson_interval(300, 400)
    assert narrow[1] - narrow[0] < 0.1  # more images, narrower
    assert groups.wilson_interval(3, 4, level=0.5)[1] < groups.wilson_interval(3, 4)[1]
    for k, n in ((1, 0), (-1, 3), (4, 3)):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            groups.wilson_interval(k, n)
    with pytest.raises(ValueError, match="level"):
        groups.wilson_interval(1, 2, level=1.0)


def test_rates_per_fine_label(fake_predictions):
    frame = fake_predictions([("joy", "others", 3, 0), ("neglect", "sadness", 4, 3),
                              ("horror", "others", 2, 1), ("shame", "sadness", 1, 1)])
    out = groups.sadness_call_rates(frame.sample(frac=1, random_state=0), "fine_label")
    # sadness groups first, then the others, each sorted by name
    assert out["fine_label"].tolist() == ["neglect", "shame", "horror", "joy"]
    assert out["measure"].tolist() == ["recall", "recall", "false-sadness rate",
                                       "false-sadness rate"]
    assert out["n"].tolist() == [4, 1, 2, 3]
    assert out["n_called_sadness"].tolist() == [3, 1, 1, 0]
    assert out["rate"].tolist() == pytest.approx([0.75, 1.0, 0.5, 0.0])
    assert (out["low"].iloc[0], out["high"].iloc[0]) == pytest.approx(_wilson_by_hand(3, 4))
    assert out["high"].iloc[3] == pytest.approx(_wilson_by_hand(0, 3)[1])


def test_a_group_of_both_classes_gives_one_row_per_class(fake_predictions):
    frame = fake_predictions([("a", "sadness", 2, 2), ("b", "others", 4, 1)])
    frame["object"] = ["dog", "dog", "dog", "dog", "car", "car"]
    out = groups.sadness_call_rates(frame, "object")
    rows = {(r.object, r.label): (r.n, r.n_called_sadness) for r in out.itertuples()}
    assert rows == {("dog", "sadness"): (2, 2), ("dog", "others"): (2, 1),
                    ("car", "others"): (2, 0)}


def test_missing_columns_and_empty_tables_are_refused(fake_predictions):
    frame = fake_predictions([("a", "sadness", 2, 1)])
    with pytest.raises(ValueError, match="my.csv has no column.*object"):
        groups.sadness_call_rates(frame, "object", what="my.csv")
    with pytest.raises(ValueError, match="no rows"):
        groups.sadness_call_rates(frame.iloc[:0], "fine_label")


def test_rates_by_model_and_object_separation(fake_predictions):
    dog_cat = fake_predictions([("a", "sadness", 2, 2), ("b", "others", 6, 2)])
    dog_cat["object"] = ["dog", "dog", "dog", "dog", "dog", "dog", "car", "car"]
    # model A: dog sadness 2/2 called sad, dog others 2/4 called sad, car others 0/2
    other = dog_cat.assign(pred="sadness")  # model B calls everything sadness
    rates = groups.rates_by_model({"A": dog_cat, "B": other}, "object")
    assert rates.columns[0] == "model" and rates["model"].unique().tolist() == ["A", "B"]
    sep = groups.object_separation(rates).set_index(["model", "object"])
    assert sep.loc[("A", "dog"), "recall"] == pytest.approx(1.0)
    assert sep.loc[("A", "dog"), "false-sadness rate"] == pytest.approx(0.5)
    assert sep.loc[("A", "dog"), "separation"] == pytest.approx(0.5)
    assert sep.loc[("B", "dog"), "separation"] == pytest.approx(0.0)  # judges nothing at all
    assert np.isnan(sep.loc[("A", "car"), "recall"])  # no sadness image of a car
    assert sep.loc[("A", "car"), "n_sadness"] == 0 and sep.loc[("A", "car"), "n_others"] == 2
    assert groups.rates_by_model({}, "object").empty


def test_empty_object_names_are_a_group(fake_predictions):
    frame = fake_predictions([("a", "sadness", 2, 1)])
    frame["object"] = ["", "tree"]
    out = groups.sadness_call_rates(frame, "object")
    assert sorted(out["object"]) == ["", "tree"]
    assert isinstance(out, pd.DataFrame)
