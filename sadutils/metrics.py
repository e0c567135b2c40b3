"""The metrics of the paper's tables, with bootstrap confidence intervals.

The paper reports accuracy, the F1 score of each class and an "overall F1". Its overall column
matches the support-weighted mean of the two class F1 scores (scikit-learn's
``average="weighted"``), not the macro mean, so both are computed and the weighted one is what
the tables compare.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binomtest
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


def _resample_metrics(t: np.ndarray, p: np.ndarray, idx: np.ndarray, names) -> dict:
    """The metrics of :data:`CI_METRICS` on each resample ``t[idx[b]]``, ``p[idx[b]]``."""
    tb, pb = t[idx], p[idx]
    k = len(names)
    # counts[b, i, j]: true i predicted j in resample b
    counts = np.zeros((len(idx), k, k))
    for i in range(k):
        for j in range(k):
            counts[:, i, j] = np.sum((tb == i) & (pb == j), axis=1)
    tp = counts[:, np.arange(k), np.arange(k)]
    support = counts.sum(axis=2)
    predicted = counts.sum(axis=1)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    samples = {
        "accuracy": tp.sum(axis=1) / t.size,
        "f1_weighted": (f1 * support).sum(axis=1) / support.sum(axis=1),
        "f1_macro": f1.mean(axis=1),
    }
    for c, name in enumerate(names):
        samples[f"f1_{name}"] = f1[:, c]
    return samples


def bootstrap_ci(y_true, y_pred, class_names=CLASS_NAMES, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict:
    """Percentile bootstrap intervals of the metrics in :data:`CI_METRICS`.

    Test sets are resampled with replacement ``n_boot`` times. The confusion counts of each
    resample are computed in one vectorised pass, so 1,000 resamples of a 2,000-image test set
    take well under a second.

    Parameters
    ----------
    y_true, y_pred : array-like
        Class names or indices into ``class_names``.
    class_names : sequence of str
    n_boot : int
    seed : int
        Seed of the resampling.
    level : float

    Returns
    -------
    dict
        ``metric -> [low, high]``.
    """
    return bootstrap_ci_of_mean(y_true, [y_pred], class_names, n_boot, seed, level)


def bootstrap_ci_of_mean(y_true, y_preds, class_names=CLASS_NAMES, n_boot: int = 1000,
                         seed: int = 0, level: float = 0.95) -> dict:
    """Bootstrap intervals of a metric's mean over several models tested on the same images.

    Each resample of the test images is scored for every model (e.g. one per training seed)
    and the scores are averaged, so the interval reflects the test set's sampling error of the
    mean over models; the spread between models is a separate number (their standard
    deviation). With one model this is :func:`bootstrap_ci`.

    Parameters
    ----------
    y_true : array-like
    y_preds : sequence of array-like
        One prediction array per model, each aligned with ``y_true``.
    class_names : sequence of str
    n_boot, seed, level
        As for :func:`bootstrap_ci`.

    Returns
    -------
    dict
        ``metric -> [low, high]``.

    Raises
    ------
    ValueError
        For no prediction arrays, or arrays of the wrong length or with unknown labels.
    """
    names = list(class_names)
    if len(y_preds) == 0:
        raise ValueError("no predictions to evaluate")
    pairs = [_label_pair(y_true, y_pred, names) for y_pred in y_preds]
    t = np.array([names.index(v) for v in pairs[0][0]])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), size=(n_boot, len(t)))
    per_model = [_resample_metrics(t, np.array([names.index(v) for v in pred]), idx, names)
                 for _, pred in pairs]
    alpha = (1 - level) / 2
    out = {}
    for key in per_model[0]:
        mean = np.mean([m[key] for m in per_model], axis=0)
        out[key] = [float(np.quantile(mean, alpha)), float(np.quantile(mean, 1 - alpha))]
    return out


def mcnemar_exact(y_true, pred_a, pred_b) -> dict:
    """The exact McNemar test of two models' accuracy on the same images.

    Only the images on which exactly one model is right carry information: ``b`` (A right, B
    wrong) and ``c`` (A wrong, B right). Under "equally accurate" each such image is a fair
    coin, so the two-sided p-value is that of a binomial test of ``b`` in ``b + c`` trials at
    one half.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like
        Labels of equal length.

    Returns
    -------
    dict
        ``a_only`` (b), ``b_only`` (c), ``n`` (images) and ``p_value`` (1.0 when the models
        never disagree on correctness).

    Raises
    ------
    ValueError
        For arrays of different lengths or empty ones.
    """
    y_true, pred_a, pred_b = (np.asarray(v).astype(str) for v in (y_true, pred_a, pred_b))
    if not (len(y_true) == len(pred_a) == len(pred_b)) or len(y_true) == 0:
        raise ValueError(f"McNemar needs three non-empty arrays of one length, got "
                         f"{len(y_true)}, {len(pred_a)}, {len(pred_b)}")
    right_a, right_b = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"a_only": b, "b_only": c, "n": int(len(y_true)), "p_value": p}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values for multiple comparisons.

    Parameters
    ----------
    p_values : array-like

    Returns
    -------
    ndarray
        Adjusted p-values, in the input order; reject where the adjusted value is below the
        level (the family-wise error rate is then at most that level).
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def calibration(y_true, p_positive, positive: str = CLASS_NAMES[0], n_bins: int = 10) -> dict:
    """How well a model's probability of the positive class matches how often it is right.

    Parameters
    ----------
    y_true : array-like
        Class names.
    p_positive : array-like
        The model's probability of ``positive`` for each image.
    positive : str
        The positive class (``sadness``, or ``text`` for the text filter).
    n_bins : int
        Equal-width bins of the probability.

    Returns
    -------
    dict
        ``ece``: the expected calibration error, the bin-size-weighted mean of
        ``|share of positives - mean probability|`` over the bins; ``brier``: the mean squared
        error of the probability; ``bins``: per non-empty bin its edges, ``n``, ``mean_p``
        and ``share_positive`` (what a reliability diagram plots).

    Raises
    ------
    ValueError
        For arrays of different lengths, empty ones, or probabilities outside 0..1.
    """
    y = (np.asarray(y_true).astype(str) == positive).astype(float)
    p = np.asarray(p_positive, dtype=float)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"calibration needs labels and probabilities of one length, got "
                         f"{y.size} and {p.size}")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("probabilities must lie within 0..1")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for k in range(n_bins):
        inside = which == k
        n = int(inside.sum())
        if n == 0:
            continue
        mean_p, share = float(p[inside].mean()), float(y[inside].mean())
        ece += n / y.size * abs(share - mean_p)
        bins.append({"low": float(edges[k]), "high": float(edges[k + 1]), "n": n,
                     "mean_p": mean_p, "share_positive": share})
    return {"ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "bins": bins}


def evaluate_predictions(y_true, y_pred, class_names=CLASS_NAMES, n_boot: int = 1000,
                         seed: int = 0) -> tuple[dict, dict]:
    """Metrics and their 95% bootstrap intervals, the pair every results record stores."""
    return (classification_metrics(y_true, y_pred, class_names),
            bootstrap_ci(y_true, y_pred, class_names, n_boot=n_boot, seed=seed))

