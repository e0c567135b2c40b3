"""What the paper published: its tables, its filtering counts, its text classifier's accuracy.

These are facts to compare with, never numbers of ours. Tables 1-3 are shipped as
``paper_tables.csv`` next to this module (one row per table and model: accuracy in percent, the
F1 score of each class and the "overall" F1, which matches the support-weighted mean of the two
class F1 scores).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from .config import OTHERS, SADNESS, check_choice

PAPER_TABLES_CSV = Path(__file__).with_name("paper_tables.csv")

TABLES = ("table1", "table2", "table3")
TABLE_TITLES = {
    "table1": "Table 1: WEBEmo, text-filtered, held-out test split",
    "table2": "Table 2: cross-dataset test on UnbiasedEmo",
    "table3": "Table 3: cross-dataset test on Emotion-6",
}
#: The dataset each table tests on.
TABLE_DATASETS = {"table1": "webemo", "table2": "unbiasedemo", "table3": "emotion6"}
#: Suffix of a row trained from random weights (the paper's ablation row is "Xception" + it).
NO_PRETRAIN_SUFFIX = " no-pretrain"
#: The paper's filtering outcome, per binary class: (before, after).
FILTER_COUNTS = {SADNESS: (8549, 6697), OTHERS: (9971, 8204)}
#: The share of the WEBEmo sample the paper's filter removed (1 - 14,901 / 18,520).
DISCARD_RATE = 1 - sum(a for _, a in FILTER_COUNTS.values()) / sum(
    b for b, _ in FILTER_COUNTS.values())
#: The paper's text classifier accuracy on its held-out images.
TEXT_CLASSIFIER_ACCURACY = 0.9931
#: (metric key of a record, column of paper_tables.csv, label in our tables).
COMPARED_METRICS = (
    ("accuracy", "accuracy_pct", "Accuracy %"),
    ("f1_sadness", "f1_sadness", "Sadness F1"),
    ("f1_others", "f1_others", "Others F1"),
    ("f1_weighted", "f1_overall", "Overall F1"),
)


def table_id(value) -> str:
    """Normalise a table name: ``"table1"``, ``"1"``, ``1`` and ``"Table 1"`` give ``"table1"``.

    Parameters
    ----------
    value : str or int

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When it names none of :data:`TABLES`.
    """
    text = str(value).strip().lower().replace(" ", "")
    if not text.startswith("table"):
        text = "table" + text
    check_choice("table", text, TABLES)
    return text


@lru_cache(maxsize=None)
def _all_tables() -> pd.DataFrame:
    return pd.read_csv(PAPER_TABLES_CSV)


def paper_table(table) -> pd.DataFrame:
    """The paper's published numbers of one table, in the paper's row order.

    Parameters
    ----------
    table : str or int
        A table name accepted by :func:`table_id`.

    Returns
    -------
    DataFrame
        Columns ``row`` (model name as printed), ``accuracy_pct`` (percent), ``f1_sadness``,
        ``f1_others``, ``f1_overall``.
    """
    tid = table_id(table)
    df = _all_tables()
    return df[df["table"] == tid].drop(columns="table").reset_index(drop=True)


def paper_rows(table) -> tuple[str, ...]:
    """The row names of one of the paper's tables, in order.

    Parameters
    ----------
    table : str or int

    Returns
    -------
    tuple of str
    """
    return tuple(paper_table(table)["row"])
