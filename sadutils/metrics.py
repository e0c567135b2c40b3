"""The metrics of the paper's tables, with bootstrap confidence intervals.

The paper reports accuracy, the F1 score of each class and an "overall F1". Its overall column
matches the support-weighted mean of the two class F1 scores (scikit-learn's
``average="weighted"``), not the macro mean, so both are computed and the weighted one is what
the tables compare.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from .config import CLASS_NAMES

#: Metrics that get a bootstrap confidence interval.
CI_METRICS = ("accuracy", "f1_sadness", "f1_others", "f1_weighted", "f1_macro")


def _as_labels(values, class_names) -> np.ndarray:
    """Class names as strings: accepts names or integer indices into ``class_names``."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        if values.size and (values.min() < 0 or values.max() >= len(class_names)):
            raise ValueError(f"class index out of range 0..{len(class_names) - 1}")
        return np.asarray(class_names, dtype=object)[values]
    values = values.astype(str)
    unknown = sorted(str(v) for v in set(values) - set(class_names))  # plain str in the message
    if unknown:
        raise ValueError(f"unknown labels {unknown}; expected {list(class_names)}")
    return values.astype(object)


def _label_pair(y_true, y_pred, names) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays as class names, checked to be non-empty and of equal length."""
    true, pred = _as_labels(y_true, names), _as_labels(y_pred, names)
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} labels but y_pred has {len(pred)}")
    if len(true) == 0:
        raise ValueError("no labels to evaluate")
    return true, pred


def classification_metrics(y_true, y_pred, class_names=CLASS_NAMES) -> dict:
    """Accuracy and F1 scores for a two-class problem, in the paper's terms.

    ``y_true`` and ``y_pred`` hold class names (``"sadness"`` / ``"others"``) or indices into
    ``class_names``. Returns ``accuracy``, ``f1_<class>`` for each class, ``f1_weighted`` (the
    paper's overall F1), ``f1_macro``, ``n``, the ``confusion_matrix`` (rows true, columns
    predicted, in ``labels`` order) and ``labels``. A class absent from both arrays gets F1 0.
    """
    names = list(class_names)
    true, pred = _label_pair(y_true, y_pred, names)
    per_class = f1_score(true, pred, labels=names, average=None, zero_division=0)
    metrics = {"accuracy": float(accuracy_score(true, pred))}
    metrics.update({f"f1_{name}": float(score) for name, score in zip(names, per_class)})
    metrics["f1_weighted"] = float(f1_score(true, pred, labels=names, average="weighted",
                                            zero_division=0))
    metrics["f1_macro"] = float(np.mean(per_class))
    metrics["n"] = int(len(true))
    metrics["confusion_matrix"] = confusion_matrix(true, pred, labels=names).tolist()
    metrics["labels"] = names
    return metrics


def bootstrap_ci(y_true, y_pred, class_names=CLASS_NAMES, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Percentile bootstrap intervals of the metrics in :data:`CI_METRICS`.

    Test sets are resampled with replacement ``n_boot`` times. The confusion counts of each
    resample are computed in one vectorised pass, so 1,000 resamples of a 2,000-image test set
    take well under a second.
    """
    names = list(class_names)
    true, pred = _label_pair(y_true, y_pred, names)
    t = np.array([names.index(v) for v in true])
    p = np.array([names.index(v) for v in pred])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), size=(n_boot, len(t)))
    tb, pb = t[idx], p[idx]
    k = len(names)
    # counts[b, i, j]: true i predicted j in resample b
    counts = np.zeros((n_boot, k, k))
    for i in range(k):
        for j in range(k):
            counts[:, i, j] = np.sum((tb == i) & (pb == j), axis=1)
    tp = counts[:, np.arange(k), np.arange(k)]
    support = counts.sum(axis=2)
    predicted = counts.sum(axis=1)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    samples = {
        "accuracy": tp.sum(axis=1) / len(t),
        "f1_weighted": (f1 * support).sum(axis=1) / support.sum(axis=1),
        "f1_macro": f1.mean(axis=1),
    }
    for c, name in enumerate(names):
        samples[f"f1_{name}"] = f1[:, c]
    alpha = (1 - level) / 2
    return {key: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))]
            for key, v in samples.items()}


def evaluate_predictions(y_true, y_pred, class_names=CLASS_NAMES, n_boot: int = 1000,
                         seed: int = 0) -> tuple[dict, dict]:
    """Metrics and their 95% bootstrap intervals, the pair every results record stores."""
    return (classification_metrics(y_true, y_pred, class_names),
            bootstrap_ci(y_true, y_pred, class_names, n_boot=n_boot, seed=seed))

