"""The tables, figures and sentences of the chapter "Does removing text matter?" (notebook
``07_text_ablation``), and the chapter as the book shows it.

The numbers come from :mod:`sadutils.analysis.text_ablation` and
:mod:`sadutils.analysis.text_reliance`; notebook 07 collects what it shows in a chapter of kind
:data:`TEXT_ABLATION`, saved under ``results/<profile>/text_ablation/`` for the book page
``text_ablation.md``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import SADNESS
from .analysis_figures import METRIC_LABELS
from .chapters import ChapterKind
from .figures import new_figure
from .tables import metric_scale

#: The chapter's parts, in order: key -> title.
PARTS = {
    "models": "The models",
    "clean": "On the same text-free test images",
    "text": "On the test images with text",
    "reliance": "Does a model read? Its answers with the text removed",
    "gradcam": "Grad-CAM heat on the text",
    "reading": "What the numbers say",
}
#: The chapter of notebook 07, saved under ``results/<profile>/text_ablation/``.
TEXT_ABLATION = ChapterKind("text_ablation", PARTS, "07_text_ablation", "text ablation")
#: How the chapter names each metric column.
_COLUMNS = {"accuracy": "Accuracy %", "f1_sadness": "Sadness F1", "f1_others": "Others F1",
            "f1_weighted": "Overall F1"}


# ---------------------------------------------------------------------------- tables

def _value(value, sd, ci, metric: str) -> str:
    """``61.5 ± 2.2 [51.3, 71.8]`` in the metric's scale."""
    if value is None or not np.isfinite(value):
        return ""
    scale, digits = metric_scale(metric)
    text = f"{value * scale:.{digits}f}"
    if sd is not None and np.isfinite(sd):
        text += f" ± {sd * scale:.{digits}f}"
    if ci is not None and len(ci) == 2:
        text += f" [{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"
    return text


def models_table(rows: dict) -> pd.DataFrame:
    """The models of the ablation: what each was trained on, its seeds and runs.

    Parameters
    ----------
    rows : dict
        :func:`sadutils.analysis.text_ablation.ablation_rows`.

    Returns
    -------
    DataFrame
        ``model``, ``train filter``, ``seeds``, ``trained on`` (images in its training and
        validation parts), ``runs`` (run ids; ``reused`` where the Table 1 run was the same
        computation).
    """
    out = []
    for row, records in rows.items():
        first = records[0]
        runs = [f"{r.run_id} (reused {r.params['reused_from']})" if r.params.get("reused_from")
                else r.run_id for r in records]
        out.append({"model": row, "train filter": first.params.get("train_filter"),
                    "seeds": ", ".join(str(r.params.get("seed")) for r in records),
                    "trained on": int(first.params.get("n_train", 0))
                    + int(first.params.get("n_val", 0)),
                    "runs": "; ".join(runs)})
    return pd.DataFrame(out, columns=["model", "train filter", "seeds", "trained on", "runs"])


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`sadutils.analysis.text_ablation.compare_on` as the chapter shows it.

    Parameters
    ----------
    summary : DataFrame

    Returns
    -------
    DataFrame
        ``Model``, ``images``, ``seeds`` and per metric "mean ± sd [95% CI]" (accuracy in
        percent).
    """
    out = pd.DataFrame({"Model": summary["model"], "images": summary["images"],
                        "seeds": summary["seeds"]})
    for metric, column in _COLUMNS.items():
        out[column] = [_value(v, sd, ci, metric) for v, sd, ci in
                       zip(summary[metric], summary[f"{metric}_sd"], summary[f"{metric}_ci"])]
    return out


def tests_table(tests: pd.DataFrame) -> pd.DataFrame:
    """McNemar's tests as the chapter shows them: one line per pair and seed.

    Parameters
    ----------
    tests : DataFrame
        :func:`sadutils.results.mcnemar_pairs`.

    Returns
    -------
    DataFrame
        ``Model A``, ``Model B``, ``seed``, ``A only right``, ``B only right``, ``p (Holm)``,
        ``real difference``.
    """
    if tests.empty:
        return pd.DataFrame(columns=["Model A", "Model B", "seed", "A only right",
                                     "B only right", "p (Holm)", "real difference"])
    return pd.DataFrame({
        "Model A": tests["model_a"], "Model B": tests["model_b"], "seed": tests["seed"],
        "A only right": tests["a_only"], "B only right": tests["b_only"],
        "p (Holm)": [f"{p:.3g}" for p in tests["p_holm"]],
        "real difference": np.where(tests["significant"], "yes", "no")})


def _rate(value, ci=None, sd=None) -> str:
    if value is None or not np.isfinite(value):
        return ""
    text = f"{100 * value:.0f}%"
    if sd is not None and np.isfinite(sd):
        text += f" ± {100 * sd:.0f}"
    if ci is not None:
        text += f" [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"
    return text


def reliance_frame(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`sadutils.analysis.text_reliance.reliance_table` as the chapter shows it.

    Parameters
    ----------
    table : DataFrame

    Returns
    -------
    DataFrame
    """
    return pd.DataFrame({
        "Model": table["model"], "images": table["images"], "seeds": table["seeds"],
        "flips, text removed": [_rate(v, ci, sd) for v, ci, sd in
                                zip(table["flip_rate"], table["flip_ci"], table["flip_sd"])],
        "flips, placebo removed": [_rate(v) for v in table["placebo_flip_rate"]],
        "placebo images": table["placebo_images"],
        "mean change of P(sadness)": [f"{v:+.3f}" for v in table["sadness_shift"]]})


def differences_frame(differences: list) -> pd.DataFrame:
    """Differences of flip rates (:func:`sadutils.analysis.text_reliance.reliance_difference`).

    Parameters
    ----------
    differences : list of dict

    Returns
    -------
    DataFrame
    """
    return pd.DataFrame([{
        "Model A": d["a"], "Model B": d["b"], "what": d.get("what", "flips, text removed"),
        "images": d["images"],
        "A minus B": "" if d["difference"] is None else f"{100 * d['difference']:+.0f} points",
        "95% CI": "" if d["ci"] is None else f"[{100 * d['ci'][0]:+.0f}, {100 * d['ci'][1]:+.0f}]",
        "real difference": "yes" if d["real"] else "no"} for d in differences])


def cam_table(cams: pd.DataFrame) -> pd.DataFrame:
    """Grad-CAM heat on the text per model: the mean over its seeds and images.

    Parameters
    ----------
    cams : DataFrame
        :attr:`sadutils.analysis.text_ablation.Probes.cams`.

    Returns
    -------
    DataFrame
        ``Model``, ``images``, ``heat on the text`` (mean share), ``text area`` (mean share of
        the pixels), ``heat / area`` (mean ratio; 1: no more heat on the text than elsewhere).
    """
    rows = []
    for row in dict.fromkeys(cams["row"]):
        mine = cams[cams["row"] == row]
        rows.append({"Model": row, "images": int(mine["path"].nunique()),
                     "heat on the text": f"{100 * np.nanmean(mine['inside']):.0f}%",
                     "text area": f"{100 * np.nanmean(mine['area']):.0f}%",
                     "heat / area": f"{np.nanmean(mine['ratio']):.2f}"})
    return pd.DataFrame(rows, columns=["Model", "images", "heat on the text", "text area",
                                       "heat / area"])


# ---------------------------------------------------------------------------- figures

def plot_comparison(summaries: dict, metric: str = "accuracy"):
    """One metric of each model on each image set, with the interval of its mean.

    Parameters
    ----------
    summaries : dict
        Image set name -> :func:`sadutils.analysis.text_ablation.compare_on` summary.
    metric : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(summaries)
    models = list(dict.fromkeys(m for s in summaries.values() for m in s["model"]))
    fig, axes = new_figure(1, 1, size=(7.5, 1.0 + 0.45 * len(models) * len(names)))
    ax = axes[0, 0]
    scale, _ = metric_scale(metric)
    y, labels = 0, []
    for i, name in enumerate(names):
        summary = summaries[name].set_index("model")
        for model in models:
            if model in summary.index:
                value = summary.loc[model, metric] * scale
                ci = summary.loc[model, f"{metric}_ci"]
                err = None if ci is None else [[value - ci[0] * scale], [ci[1] * scale - value]]
                ax.errorbar(value, y, xerr=err, fmt="os^D"[i % 4], color=f"C{i}", capsize=3,
                            label=name if model == models[0] else None)
            labels.append(f"{model}\n({name})")
            y += 1
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{METRIC_LABELS.get(metric, metric)}"
                  + (" (%)" if metric == "accuracy" else "")
                  + ": mean over seeds, 95% bootstrap interval", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_reliance(table: pd.DataFrame):
    """Each model's flip rate with the text removed and with the placebo removed.

    Parameters
    ----------
    table : DataFrame
        :func:`sadutils.analysis.text_reliance.reliance_table`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(1, 1, size=(7.0, 1.2 + 0.55 * len(table)))
    ax = axes[0, 0]
    y = np.arange(len(table))
    rate = 100 * table["flip_rate"].to_numpy(float)
    ci = np.array([c if c is not None else (np.nan, np.nan) for c in table["flip_ci"]], float)
    ax.barh(y - 0.18, rate, height=0.34, color="C3", label="text removed")
    ax.errorbar(rate, y - 0.18, xerr=[rate - 100 * ci[:, 0], 100 * ci[:, 1] - rate],
                fmt="none", color="0.2", capsize=3)
    ax.barh(y + 0.18, 100 * table["placebo_flip_rate"].to_numpy(float), height=0.34,
            color="0.6", label="placebo removed (same shapes, elsewhere)")
    ax.set_yticks(y, table["model"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of answers that flip (%), 95% bootstrap interval over the images",
                  fontsize=8)
    ax.set_xlim(0, 100)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_masked_examples(examples: dict, n: int = 6):
    """A few images with text, before and after the text is removed, with each model's
    P(sadness) (the mean over its seeds) on both.

    Parameters
    ----------
    examples : dict
        :func:`sadutils.analysis.text_ablation.masked_examples`: ``original`` and ``masked``
        (``(k, size, size, 3)`` ``uint8``, the images as the models saw them), ``paths``
        (aligned with them) and ``probabilities`` (model -> DataFrame indexed by path with
        ``p_sadness`` and ``p_sadness_masked``).
    n : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    original, masked = examples["original"], examples["masked"]
    probabilities, paths = examples["probabilities"], examples["paths"]
    k = min(n, len(original))
    fig, axes = new_figure(2, max(k, 1), size=(1.7 * max(k, 1), 4.8))
    for j in range(max(k, 1)):
        for i, (pixels, column, what) in enumerate(((original, "p_sadness", "as it is"),
                                                     (masked, "p_sadness_masked",
                                                      "text removed"))):
            ax = axes[i, j]
            ax.set_axis_off()
            if j >= k:
                continue
            ax.imshow(pixels[j])
            lines = [f"{m.split(',')[-1].strip()}: {frame.loc[paths[j], column]:.2f}"
                     for m, frame in probabilities.items() if paths[j] in frame.index]
            ax.set_title(f"{what}\nP(sadness)\n" + "\n".join(lines), fontsize=6)
    return fig


# ---------------------------------------------------------------------------- sentences

def test_images_note(test: pd.DataFrame) -> str:
    """How the split sample's test part divides into text-free images and images with text.

    Parameters
    ----------
    test : DataFrame
        :func:`sadutils.analysis.text_ablation.test_images`.

    Returns
    -------
    str
    """
    with_text = test[test["text"]]
    by = with_text["text_by"]
    return (f"The test part of the split sample has {len(test)} images: "
            f"{len(test) - len(with_text)} in which no text method finds text (every model was "
            f"tested on them) and {len(with_text)} in which one does ({(by == 'cnn').sum()} by "
            f"the classifier only, {(by == 'ocr').sum()} by the OCR detector only, "
            f"{(by == 'cnn+ocr').sum()} by both).")


def probed_note(regions: pd.DataFrame, method: str, margin: float) -> str:
    """Which images the reliance probe asked about, and how their text was removed.

    Parameters
    ----------
    regions : DataFrame
        :func:`sadutils.analysis.text_ablation.text_regions` of
        :func:`sadutils.analysis.text_ablation.probe_images`.
    method : str
        ``inpaint`` or ``blur``.
    margin : float
        How much each text line's box was widened, as a share of the image's shorter side.

    Returns
    -------
    str
    """
    test = regions["source"] == "test"
    found = regions["lines"] > 0
    return (f"Images probed: the OCR detector finds text lines in {(found & test).sum()} of the "
            f"{test.sum()} test images with text and in {(found & ~test).sum()} of "
            f"{(~test).sum()} WEBEmo images outside the sample (no model trained, was validated "
            f"or was tested on them). Each line's box is widened by {margin:.0%} of the image's "
            f"shorter side and {'inpainted' if method == 'inpaint' else 'blurred'}; a placebo "
            f"(the same shapes mirrored to where there is no text) exists for "
            f"{int(regions.loc[found, 'placebo'].notna().sum())} of them.")


def _pair_sentence(tests: pd.DataFrame) -> str:
    combined = tests[tests["seed"].astype(str) == "all"]
    if combined.empty:
        return "No two models could be tested against each other."
    real = combined[combined["significant"]]
    if real.empty:
        return (f"McNemar's test (Holm-corrected, per seed) finds no pair of models whose "
                f"difference holds in every seed ({len(combined)} "
                f"pair{'s' if len(combined) != 1 else ''} tested).")
    pairs = "; ".join(f"{r.better} is better than "
                      f"{r.model_a if r.better == r.model_b else r.model_b}"
                      for r in real.itertuples())
    return (f"McNemar's test (Holm-corrected) finds a difference that holds in every seed for "
            f"{len(real)} of {len(combined)} pairs: {pairs}.")


def comparison_reading(summary: pd.DataFrame, tests: pd.DataFrame, where: str) -> str:
    """A few sentences on one comparison, computed from its numbers.

    Parameters
    ----------
    summary : DataFrame
        :func:`sadutils.analysis.text_ablation.compare_on`.
    tests : DataFrame
    where : str
        The images, in words (``the 77 text-free test images``).

    Returns
    -------
    str
    """
    if summary.empty:
        return f"No model was tested on {where}."
    best = summary.loc[summary["accuracy"].idxmax()]
    worst = summary.loc[summary["accuracy"].idxmin()]
    spread = summary["accuracy_sd"].max()
    text = (f"On {where}, accuracy ranges from {100 * worst['accuracy']:.1f}% "
            f"({worst['model']}) to {100 * best['accuracy']:.1f}% ({best['model']})")
    text += (f"; the seeds of one model differ by up to {100 * spread:.1f} points (standard "
             "deviation)." if np.isfinite(spread) else ".")
    return f"{text} {_pair_sentence(tests)}"


def reliance_reading(table: pd.DataFrame, differences: list, method: str) -> str:
    """What the flip rates say, computed from them.

    Parameters
    ----------
    table : DataFrame
        :func:`sadutils.analysis.text_reliance.reliance_table`.
    differences : list of dict
        :func:`sadutils.analysis.text_reliance.reliance_difference`, unfiltered model first.
    method : str
        How the text was removed.

    Returns
    -------
    str
    """
    if table.empty:
        return "The OCR detector found no text in the test images: nothing to remove."
    n = int(table["images"].max())
    parts = [f"With the text the OCR detector found {'inpainted' if method == 'inpaint' else 'blurred'} "
             f"away ({n} images probed), "
             + ", ".join(f"{r.model} changes {100 * r.flip_rate:.0f}% of its answers "
                         f"(placebo: {_rate(r.placebo_flip_rate) or 'none'})"
                         for r in table.itertuples()) + "."]
    for d in differences:
        if d["difference"] is None:
            continue
        verdict = ("a real difference: the interval excludes zero" if d["real"]
                   else "not a real difference: the interval includes zero")
        parts.append(f"{d['a']} minus {d['b']} ({d.get('what', 'flips, text removed')}): "
                     f"{100 * d['difference']:+.0f} points, 95% interval "
                     f"[{100 * d['ci'][0]:+.0f}, {100 * d['ci'][1]:+.0f}], {verdict}.")
    return " ".join(parts)


def cam_reading(cams: pd.DataFrame) -> str:
    """What the Grad-CAM heat on the text says, computed from it.

    Parameters
    ----------
    cams : DataFrame

    Returns
    -------
    str
    """
    if cams.empty:
        return "No Grad-CAM maps (no test image with text regions)."
    parts = []
    for row in dict.fromkeys(cams["row"]):
        mine = cams[cams["row"] == row]
        ratio = float(np.nanmean(mine["ratio"]))
        where = ("more" if ratio > 1.05 else "less" if ratio < 0.95 else "about as much")
        parts.append(f"{row} puts {100 * np.nanmean(mine['inside']):.0f}% of its heat on text "
                     f"that covers {100 * np.nanmean(mine['area']):.0f}% of the image "
                     f"({where} than its share of the area, ratio {ratio:.2f})")
    return "; ".join(parts) + "."


def control_reading(control: dict | None, differences: list) -> str:
    """Whether the demo's positive control was detected, in one or two sentences.

    Parameters
    ----------
    control : dict or None
        The ``positive_control`` of the demo data's ``DEMO_DATA.json`` (None: the paper
        profile, whose data has none).
    differences : list of dict
        Unfiltered models' flip rates minus filtered models'
        (:func:`sadutils.analysis.text_ablation.reliance_differences`); the first one with
        shared images is read.

    Returns
    -------
    str
    """
    if control is None:
        return ("The real datasets carry no planted signal, so there is no positive control: "
                "what the flip rates show is what the models do.")
    rate = control.get("rate", {})
    planted = (f"The demo data plants a positive control: captions of sad words on "
               f"{100 * rate.get(SADNESS, math.nan):.0f}% of its sadness images and "
               f"{100 * rate.get('others', math.nan):.0f}% of its others images.")
    difference = next((d for d in differences if d["difference"] is not None), None)
    if difference is None:
        return planted + " No unfiltered and filtered model were both probed, so it is not tested."
    if difference["real"] and difference["difference"] > 0:
        return (planted + f" It is detected: {difference['a']} flips "
                f"{100 * difference['difference']:.0f} points more often than {difference['b']}"
                f" when the text goes, and the interval excludes zero.")
    return (planted + " It is NOT detected: the unfiltered model's flip rate is not above the "
            "filtered one's with an interval that excludes zero, so the method is not "
            "sensitive enough at this size to find a model that uses text.")

