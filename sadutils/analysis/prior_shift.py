"""Where the cross-dataset drop comes from: the class ratio of the test set, or its images.

A two-class model's behaviour on a test set is summed up by two rates that do not depend on how
many images of each class the set holds: its **recall** (the share of sadness images it calls
sadness) and its **specificity** (the share of other images it calls others). Accuracy and the
F1 scores, the numbers of the paper's tables, mix these rates with the set's **prior**, its
share of sadness images. Tables 2 and 3 test on sets whose prior differs from WEBEmo's, so part
of their difference from Table 1 is the prior and part is the images (the rates themselves).

Two views separate them here, both from saved predictions, without predicting again:

* :func:`ratio_sweep` redraws the test set at other class ratios exactly as notebook 04's
  ``sadness_fraction`` does (:func:`sadutils.experiments.cross_dataset.ratio_counts` and the
  same seeded draw), and measures each subset;
* :func:`expected_metrics` gives the metrics the model's rates imply at any prior (expected
  confusion counts), a smooth curve through those points; :func:`drop_decomposition` uses it
  to split the drop from Table 1 into a prior part and an image part.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import CLASS_NAMES, OTHERS, SADNESS
from ..data.manifests import sample_per_class
from ..experiments.cross_dataset import ratio_counts
from ..metrics import classification_metrics
from .groups import require_columns

#: The metrics swept and split, as in the paper's tables.
SHIFT_METRICS = ("accuracy", "f1_sadness", "f1_others", "f1_weighted")


@dataclass(frozen=True)
class ClassRates:
    """A model's behaviour on one test set, apart from the set's class ratio.

    Attributes
    ----------
    n_sadness, n_others : int
        Images of each class.
    recall : float
        Share of the sadness images called sadness.
    specificity : float
        Share of the other images called others.
    """

    n_sadness: int
    n_others: int
    recall: float
    specificity: float

    @property
    def prior(self) -> float:
        """The set's share of sadness images."""
        return self.n_sadness / (self.n_sadness + self.n_others)


def class_rates(frame: pd.DataFrame, what: str = "the predictions") -> ClassRates:
    """Recall and specificity of a model on a test set.

    Parameters
    ----------
    frame : DataFrame
        With ``label`` and ``pred``.
    what : str
        What ``frame`` is, for error messages.

    Returns
    -------
    ClassRates

    Raises
    ------
    ValueError
        When a column is missing or a class has no image.
    """
    require_columns(frame, ("label", "pred"), what)
    label, pred = frame["label"].astype(str), frame["pred"].astype(str)
    sad, oth = label == SADNESS, label == OTHERS
    if not sad.any() or not oth.any():
        raise ValueError(f"{what} needs images of both classes ({int(sad.sum())} sadness, "
                         f"{int(oth.sum())} others)")
    return ClassRates(int(sad.sum()), int(oth.sum()),
                      float((pred[sad] == SADNESS).mean()), float((pred[oth] == OTHERS).mean()))


def expected_metrics(recall, specificity, prior) -> dict:
    """Accuracy and F1 scores implied by a model's rates at a given prior.

    The confusion counts per image are their expectations: true positives ``prior * recall``,
    missed sadness ``prior * (1 - recall)``, false sadness ``(1 - prior) * (1 - specificity)``,
    true others ``(1 - prior) * specificity``. At the prior of the set the rates were measured
    on, these are the set's own counts divided by its size, so the metrics are exactly the
    measured ones.

    Parameters
    ----------
    recall, specificity : float or array
    prior : float or array
        Share of sadness images, within 0..1.

    Returns
    -------
    dict
        :data:`SHIFT_METRICS` -> float or array (broadcast); an F1 score whose class is
        neither present nor predicted is 0, as in :func:`sadutils.metrics.classification_metrics`.
    """
    r, s, p = (np.asarray(v, dtype=float) for v in (recall, specificity, prior))
    tp, fn = p * r, p * (1 - r)
    fp, tn = (1 - p) * (1 - s), (1 - p) * s

    def f1(hit, miss_a, miss_b):
        denom = 2 * hit + miss_a + miss_b
        return np.divide(2 * hit, denom, out=np.zeros_like(denom), where=denom > 0)

    f1_s, f1_o = f1(tp, fn, fp), f1(tn, fp, fn)
    out = {"accuracy": tp + tn, "f1_sadness": f1_s, "f1_others": f1_o,
           "f1_weighted": p * f1_s + (1 - p) * f1_o}
    return {k: float(v) if v.ndim == 0 else v for k, v in out.items()}


def ratio_subset(frame: pd.DataFrame, sadness_fraction, seed: int) -> pd.DataFrame:
    """The rows notebook 04 would test on with this ``sadness_fraction`` and seed.

    One class is kept whole and the other subsampled
    (:func:`sadutils.experiments.cross_dataset.ratio_counts`), by the same seeded draw as
    :func:`sadutils.experiments.cross_dataset.build_eval_set`, which depends only on the seed and
    the set of paths: from a whole set's saved predictions this gives the predictions a run of
    notebook 04 with that fraction would have made, without predicting again.

    Parameters
    ----------
    frame : DataFrame
        A whole test set's predictions (``path``, ``label``, ``pred``...).
    sadness_fraction : float or None
        None keeps the set as it is.
    seed : int

    Returns
    -------
    DataFrame
        Sorted by path, index reset.

    Raises
    ------
    ValueError
        For a fraction outside (0, 1) or one that leaves a class empty.
    """
    require_columns(frame, ("label", "pred"), "the predictions")
    by_label = frame["label"].value_counts()
    counts = ratio_counts(int(by_label.get(SADNESS, 0)), int(by_label.get(OTHERS, 0)),
                          sadness_fraction)
    return sample_per_class(frame, counts, seed).reset_index(drop=True)


def ratio_sweep(frame: pd.DataFrame, fractions, seed: int) -> pd.DataFrame:
    """The metrics of one model's predictions redrawn at each class ratio.

    Parameters
    ----------
    frame : DataFrame
        A whole test set's predictions.
    fractions : sequence of float
        Sadness fractions, each strictly between 0 and 1; the set's own ratio is added as the
        row with ``sadness_fraction`` None.
    seed : int
        Seed of the draws (notebook 04's ``seed``; the profile's by default).

    Returns
    -------
    DataFrame
        One row per fraction (the natural ratio first): ``sadness_fraction``,
        ``sadness_share`` (reached), ``n``, ``n_sadness``, ``n_others``, the measured
        :data:`SHIFT_METRICS` and ``expected_<metric>``, what the whole set's rates imply at
        the share reached.
    """
    rates = class_rates(frame)
    rows = []
    for fraction in [None, *fractions]:
        subset = ratio_subset(frame, fraction, seed)
        measured = classification_metrics(subset["label"].astype(str),
                                          subset["pred"].astype(str), CLASS_NAMES)
        n_sad = int((subset["label"] == SADNESS).sum())
        share = n_sad / len(subset)
        expected = expected_metrics(rates.recall, rates.specificity, share)
        rows.append({"sadness_fraction": fraction, "sadness_share": share, "n": len(subset),
                     "n_sadness": n_sad, "n_others": len(subset) - n_sad,
                     **{m: measured[m] for m in SHIFT_METRICS},
                     **{f"expected_{m}": expected[m] for m in SHIFT_METRICS}})
    return pd.DataFrame(rows)


def expected_curve(frame: pd.DataFrame, shares=None) -> pd.DataFrame:
    """The metrics a model's rates on a test set imply over a range of priors.

    Parameters
    ----------
    frame : DataFrame
        Its predictions.
    shares : sequence of float, optional
        Priors; default 101 points from 0 to 1.

    Returns
    -------
    DataFrame
        ``sadness_share`` and :data:`SHIFT_METRICS`.
    """
    rates = class_rates(frame)
    shares = np.linspace(0, 1, 101) if shares is None else np.asarray(shares, dtype=float)
    return pd.DataFrame({"sadness_share": shares,
                         **expected_metrics(rates.recall, rates.specificity, shares)})


def drop_decomposition(source: pd.DataFrame, target: pd.DataFrame,
                       metrics=("accuracy", "f1_weighted")) -> dict:
    """Split the change of a metric from one test set to another into prior and images.

    ``drop = source - target`` (positive: worse on the target) is the sum of

    * ``images``: the source's value minus the target's at the *source's* prior (the
      target's rates reweighted to the source's class ratio): what the other images cost;
    * ``prior``: the target at the source's prior minus the target as measured: what the
      other class ratio costs (negative when it helps).

    Parameters
    ----------
    source : DataFrame
        Predictions on the training dataset's test split (WEBEmo).
    target : DataFrame
        Predictions of the same model on the other test set.
    metrics : sequence of str
        Among :data:`SHIFT_METRICS`.

    Returns
    -------
    dict
        ``source_prior``, ``target_prior``, the rates of both sets (``source_recall``...),
        and per metric ``<m>_source``, ``<m>_target``, ``<m>_target_at_source_prior``,
        ``<m>_drop``, ``<m>_images``, ``<m>_prior``.

    Raises
    ------
    ValueError
        For an unknown metric or a set lacking a class.
    """
    unknown = [m for m in metrics if m not in SHIFT_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(SHIFT_METRICS)}")
    src = class_rates(source, "the source predictions")
    tgt = class_rates(target, "the target predictions")
    at_source = expected_metrics(src.recall, src.specificity, src.prior)
    at_target = expected_metrics(tgt.recall, tgt.specificity, tgt.prior)
    moved = expected_metrics(tgt.recall, tgt.specificity, src.prior)
    out = {"source_prior": src.prior, "target_prior": tgt.prior,
           "source_recall": src.recall, "source_specificity": src.specificity,
           "target_recall": tgt.recall, "target_specificity": tgt.specificity}
    for m in metrics:
        out.update({f"{m}_source": at_source[m], f"{m}_target": at_target[m],
                    f"{m}_target_at_source_prior": moved[m],
                    f"{m}_drop": at_source[m] - at_target[m],
                    f"{m}_images": at_source[m] - moved[m],
                    f"{m}_prior": moved[m] - at_target[m]})
    return out


def drop_table(source: dict, targets: dict, metrics=("accuracy", "f1_weighted")
               ) -> pd.DataFrame:
    """:func:`drop_decomposition` for every model with predictions on both sets.

    Parameters
    ----------
    source : dict
        Model -> predictions on WEBEmo's test split.
    targets : dict
        Test set name -> (model -> predictions on it).
    metrics : sequence of str

    Returns
    -------
    DataFrame
        One row per test set and model: ``dataset``, ``model`` and the decomposition.
    """
    rows = [{"dataset": dataset, "model": model,
             **drop_decomposition(source[model], frame, metrics)}
            for dataset, frames in targets.items() for model, frame in frames.items()
            if model in source]
    return pd.DataFrame(rows)
