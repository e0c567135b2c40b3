"""The paper's published facts: Tables 1-3, the filtering counts, the compared metrics."""
from __future__ import annotations

import pytest

from sadutils import paper
from sadutils.paper import (COMPARED_METRICS, DISCARD_RATE, FILTER_COUNTS, TABLE_DATASETS,
                            TABLE_TITLES, TABLES, paper_rows, paper_table, table_id)


def test_paper_tables_match_the_paper():
    t1, t2, t3 = (paper_table(t) for t in ("table1", 2, "3"))
    assert list(t1["row"]) == ["Xception", "EfficientNetV2B0", "EfficientNetV2B2",
                               "EfficientNetV2S", "Xception no-pretrain"]
    assert len(t2) == 4 and len(t3) == 4
    cell = lambda t, row, col: float(t.loc[t["row"] == row, col].iloc[0])  # noqa: E731
    assert cell(t1, "Xception", "accuracy_pct") == 72.53
    assert cell(t1, "EfficientNetV2S", "accuracy_pct") == 75.57
    assert cell(t1, "EfficientNetV2S", "f1_overall") == 0.76
    assert cell(t1, "Xception no-pretrain", "accuracy_pct") == 63.53
    assert cell(t1, "Xception no-pretrain", "f1_others") == 0.65
    assert cell(t1, "EfficientNetV2B2", "f1_sadness") == 0.71
    assert cell(t2, "EfficientNetV2B2", "accuracy_pct") == 75.00
    assert cell(t2, "EfficientNetV2S", "f1_sadness") == 0.75
    assert cell(t2, "Xception", "f1_overall") == 0.73
    assert cell(t3, "EfficientNetV2B0", "accuracy_pct") == 65.52
    assert cell(t3, "Xception", "f1_others") == 0.74
    assert cell(t3, "EfficientNetV2S", "f1_sadness") == 0.65
    assert list(t1.columns) == ["row", "accuracy_pct", "f1_sadness", "f1_others", "f1_overall"]
    assert paper_rows(2) == tuple(t2["row"]) == ("Xception", "EfficientNetV2B0",
                                                 "EfficientNetV2B2", "EfficientNetV2S")


def test_paper_table_rejects_unknown_table():
    with pytest.raises(ValueError, match="table4"):
        paper_table(4)
    with pytest.raises(ValueError, match="valid choices: table1, table2, table3"):
        table_id("first")


@pytest.mark.parametrize("spelling", ["table1", "1", 1, "Table 1", " TABLE1 "])
def test_table_id_normalises(spelling):
    assert table_id(spelling) == "table1"


def test_paper_table_is_a_copy():
    t = paper_table(1)
    t.loc[0, "accuracy_pct"] = 0.0
    assert paper_table(1).loc[0, "accuracy_pct"] == 72.53


def test_facts_agree_with_each_other():
    assert set(TABLE_TITLES) == set(TABLE_DATASETS) == set(TABLES)
    assert TABLE_DATASETS == {"table1": "webemo", "table2": "unbiasedemo", "table3": "emotion6"}
    assert FILTER_COUNTS == {"sadness": (8549, 6697), "others": (9971, 8204)}
    assert DISCARD_RATE == pytest.approx(1 - 14901 / 18520)
    assert 0.19 < DISCARD_RATE < 0.20
    assert paper.TEXT_CLASSIFIER_ACCURACY == 0.9931
    columns = set(paper_table(1).columns)
    assert all(column in columns for _, column, _ in COMPARED_METRICS)
    assert [key for key, _, _ in COMPARED_METRICS] == ["accuracy", "f1_sadness", "f1_others",
                                                       "f1_weighted"]


def test_overall_f1_lies_between_the_class_f1s():
    """The paper's overall F1 is a (support-weighted) mean of the two class F1 scores."""
    for table in TABLES:
        for _, r in paper_table(table).iterrows():
            low, high = sorted((r["f1_sadness"], r["f1_others"]))
            assert low - 0.01 <= r["f1_overall"] <= high + 0.01, (table, r["row"])
