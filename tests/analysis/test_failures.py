"""sadutils.analysis.failures: which images the gallery and the Grad-CAM figure show, on FAKE
prediction tables."""
from __future__ import annotations

import pandas as pd
import pytest

from sadutils.analysis import failures


def _frame(rows):
    return pd.DataFrame(rows, columns=["path", "label", "fine_label", "pred", "p_sadness"]).assign(
        p_others=lambda f: 1 - f["p_sadness"])


def test_confident_mistakes_surest_first():
    frame = _frame([("a", "sadness", "neglect", "others", 0.30),   # wrong, 0.70 sure
                    ("b", "others", "horror", "sadness", 0.95),   # wrong, 0.95 sure
                    ("c", "sadness", "shame", "sadness", 0.99),   # right
                    ("d", "others", "joy", "sadness", 0.70),      # wrong, 0.70 sure (tie)
                    ("e", "others", "awe", "others", 0.01)])      # right
    out = failures.confident_mistakes(frame, n=5)
    assert out["path"].tolist() == ["b", "a", "d"]  # ties broken by path
    assert out["confidence"].tolist() == pytest.approx([0.95, 0.70, 0.70])
    assert out.columns.tolist() == ["path", "label", "fine_label", "pred", "confidence"]
    assert failures.confident_mistakes(frame, n=1)["path"].tolist() == ["b"]
    assert failures.confident_mistakes(frame[frame["path"].isin(["c", "e"])]).empty
    with pytest.raises(ValueError, match="at least 1"):
        failures.confident_mistakes(frame, n=0)
    with pytest.raises(ValueError, match="p_sadness, p_others"):
        failures.confident_mistakes(frame.drop(columns="p_others"))


def test_shared_picks_right_and_wrong_of_both_classes():
    a = _frame([("s1", "sadness", "x", "sadness", 0.9), ("s2", "sadness", "x", "others", 0.2),
                ("s3", "sadness", "x", "sadness", 0.8), ("o1", "others", "y", "others", 0.1),
                ("o2", "others", "y", "sadness", 0.7)])
    b = a.assign(pred=["sadness", "others", "others", "others", "sadness"])
    picks = failures.shared_picks({"A": a, "B": b.iloc[::-1]}, per_cell=1, seed=0)
    assert picks["path"].tolist() == ["s1", "s2", "o1", "o2"]
    assert picks["right_share"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert picks["cell"].tolist() == ["sadness, right for 2 of 2 models",
                                      "sadness, right for 0 of 2 models",
                                      "others, right for 2 of 2 models",
                                      "others, right for 0 of 2 models"]
    more = failures.shared_picks({"A": a, "B": b}, per_cell=2, seed=0)
    assert len(more) == 5 and more["path"].is_unique  # an image is chosen once
    with pytest.raises(ValueError, match="share no image"):
        failures.shared_picks({"A": a, "B": a.assign(path=list("vwxyz"))})
    with pytest.raises(ValueError, match="no predictions"):
        failures.shared_picks({})
