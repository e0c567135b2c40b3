"""The book's Data page: what each dataset looks like and how many images it has, from the
data present when the book is built.

For every profile whose data folder holds a dataset, :func:`dataset_counts` counts its images
per class (from the dataset's own loader, as every notebook reads it) beside what the paper
states, and :func:`sample_grid` draws a few images of each class, chosen at random with a
fixed seed. :func:`text_filter_grid` shows WEBEmo images the text filter removed and kept
(with the positive control's captions among them in the demo), from notebook 02's scored
manifest.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from ..config import DATASETS, OTHERS, PROFILES, SADNESS, TEXT
from ..data.images import ImageError, open_rgb
from ..data.loaders import load_dataset
from ..data.manifests import in_key_order, read_manifest
from ..demo import WEBEMO_TRUTH_NAME, describe_demo
from ..paper import FILTER_COUNTS
from ..workspace import Workspace, data_home, shown_path
from .chapters import Png
from .figures import figure_png, new_figure
from .tables import format_table

#: What the paper states of each dataset: ``(what, images)`` pairs.
PAPER_COUNTS = {
    "webemo": (("the whole dataset", 268000), ("downloaded", 220854),
               ("sampled", sum(b for b, _ in FILTER_COUNTS.values())),
               ("sadness sampled", FILTER_COUNTS[SADNESS][0]),
               ("others sampled", FILTER_COUNTS[OTHERS][0]),
               ("kept by the text filter", sum(a for _, a in FILTER_COUNTS.values()))),
    "cocotext": (("images with text used", 6627),),
    "rgp": (("images without text used", 9720),),
    "unbiasedemo": (),
    "emotion6": (),
}
#: How each dataset's images are grouped in its grid: the binary label, or its own emotion.
GRID_BY = {"webemo": "label", "unbiasedemo": "fine_label", "emotion6": "fine_label",
           "cocotext": "label", "rgp": "fine_label"}
#: Dataset names as the page writes them.
TITLES = {"webemo": "WEBEmo", "unbiasedemo": "UnbiasedEmo", "emotion6": "Emotion-6",
          "cocotext": "COCO-Text", "rgp": '"RGP"'}


def data_workspaces(data_root=None) -> list[Workspace]:
    """The profiles whose data folder exists, ``demo`` last.

    Parameters
    ----------
    data_root : path, optional
        The data home (default :func:`sadutils.workspace.data_home`).

    Returns
    -------
    list of Workspace
    """
    home = data_home() if data_root is None else data_root
    out = []
    for profile in sorted(PROFILES, key=lambda p: p == "demo"):
        ws = Workspace.create(profile, data_root=f"{home}/{profile}")
        if any(ws.dataset_dir(d).is_dir() for d in DATASETS):
            out.append(ws)
    return out


def load(ws: Workspace, dataset: str) -> pd.DataFrame | None:
    """A dataset's manifest as its loader reads it (files are listed, not decoded).

    Parameters
    ----------
    ws : Workspace
    dataset : str

    Returns
    -------
    DataFrame or None
        None when the dataset's folder is missing or cannot be read as the dataset.
    """
    root = ws.dataset_dir(dataset)
    if not root.is_dir():
        return None
    try:
        return load_dataset(dataset, root, check=False).manifest
    except (FileNotFoundError, ValueError, OSError):
        return None


def dataset_counts(ws: Workspace, dataset: str, manifest: pd.DataFrame) -> pd.DataFrame:
    """Images per class of a dataset here, beside what the paper states.

    Parameters
    ----------
    ws : Workspace
    dataset : str
    manifest : DataFrame
        :func:`load`.

    Returns
    -------
    DataFrame
        ``what``, ``here`` (images in this profile's data) and ``paper`` (empty where the
        paper states no number). For WEBEmo also the sample and what the filter kept, from
        notebook 02's scored manifest when it exists.
    """
    by = GRID_BY[dataset]
    rows = [{"what": "images", "here": len(manifest)}]
    rows += [{"what": f"{by.replace('_', ' ')} {value}", "here": int(n)}
             for value, n in manifest[by].value_counts().sort_index().items()]
    if dataset == "webemo" and ws.scored_manifest.is_file():
        scored = read_manifest(ws.scored_manifest)
        kept = scored["kept"].astype(bool)
        rows += [{"what": "sampled", "here": len(scored)}]
        rows += [{"what": f"{label} sampled", "here": int((scored["label"] == label).sum())}
                 for label in (SADNESS, OTHERS)]
        rows += [{"what": "kept by the text filter", "here": int(kept.sum())}]
    paper = dict(PAPER_COUNTS.get(dataset, ()))
    if dataset == "webemo":
        rows = [{"what": "the whole dataset", "here": None},
                {"what": "downloaded", "here": len(manifest)}] + rows[1:]
    seen = {r["what"] for r in rows}
    rows += [{"what": what, "here": None} for what in paper if what not in seen]
    frame = pd.DataFrame(rows)
    frame["paper"] = [paper.get(w) for w in frame["what"]]
    for column in ("here", "paper"):
        frame[column] = [("" if v is None or pd.isna(v) else f"{int(v):,}")
                         for v in frame[column]]
    return frame


def _thumbnail(path, size: int) -> np.ndarray | None:
    try:
        im = open_rgb(path)
    except ImageError:
        return None
    im.thumbnail((size, size), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(im, ((size - im.width) // 2, (size - im.height) // 2))
    return np.asarray(canvas)


def pick(manifest: pd.DataFrame, by: str, per_group: int, seed: int = 0) -> pd.DataFrame:
    """``per_group`` rows of each group, at random with a fixed seed (by the rows' keys).

    Parameters
    ----------
    manifest : DataFrame
    by : str
        The column to group by.
    per_group : int
    seed : int

    Returns
    -------
    DataFrame
        With the group's value in ``group``, groups in sorted order.
    """
    parts = []
    for value, rows in manifest.groupby(by, sort=True):
        rows = in_key_order(rows)
        order = np.random.default_rng(seed).permutation(len(rows))[:per_group]
        parts.append(rows.iloc[np.sort(order)].assign(group=str(value)))
    return pd.concat(parts, ignore_index=True) if parts else manifest.iloc[:0].assign(group="")


def sample_grid(chosen: pd.DataFrame, title: str, size: int = 110, captions=None):
    """A grid of images: one row per group, its name on the left.

    Parameters
    ----------
    chosen : DataFrame
        :func:`pick` (``path``, ``group``).
    title : str
    size : int
        Pixels of each thumbnail.
    captions : dict, optional
        Path -> a short line shown under the image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = list(dict.fromkeys(chosen["group"]))
    width = max(int(chosen.groupby("group").size().max()), 1) if len(chosen) else 1
    fig, axes = new_figure(max(len(groups), 1), width,
                           size=(1.25 * width + 1.2, 1.35 * max(len(groups), 1) + 0.4))
    for i, group in enumerate(groups or [""]):
        mine = chosen[chosen["group"] == group].reset_index(drop=True)
        for j in range(width):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j == 0:
                ax.set_ylabel(group, fontsize=8, rotation=0, ha="right", va="center")
            if j >= len(mine):
                continue
            pixels = _thumbnail(mine.loc[j, "path"], size)
            if pixels is not None:
                ax.imshow(pixels)
            if captions and mine.loc[j, "path"] in captions:
                ax.set_xlabel(captions[mine.loc[j, "path"]], fontsize=6)
    fig.suptitle(title, fontsize=9)
    return fig


def control_captions(ws: Workspace) -> dict:
    """The demo's positive-control captions, by WEBEmo file name (empty without demo data).

    Parameters
    ----------
    ws : Workspace

    Returns
    -------
    dict
        Downloaded file name's tail (the CDN name) -> the caption's words.
    """
    path = ws.data / WEBEMO_TRUTH_NAME
    if not path.is_file():
        return {}
    truth = pd.read_csv(path, keep_default_na=False)
    if "caption" not in truth.columns:
        return {}
    found = truth[truth["caption"] != ""]
    return dict(zip(found["file_name"].astype(str), found["caption"].astype(str)))


def text_filter_grid(ws: Workspace, per_group: int = 6, size: int = 110):
    """WEBEmo images the text filter removed and kept (notebook 02), the positive control's
    captions marked.

    Parameters
    ----------
    ws : Workspace
    per_group : int
    size : int

    Returns
    -------
    matplotlib.figure.Figure or None
        None before notebook 02 has run.
    """
    if not ws.scored_manifest.is_file():
        return None
    scored = read_manifest(ws.scored_manifest)
    captions = control_captions(ws)
    tail = scored["path"].astype(str).str.rsplit("/", n=1).str[-1].str.split("_", n=1).str[-1]
    scored["caption"] = tail.map(captions)
    scored["group"] = np.where(scored["kept"].astype(bool), "kept (no text found)",
                               f"removed ({TEXT} found)")
    chosen = []
    for group, rows in scored.groupby("group", sort=False):
        rows = in_key_order(rows)
        order = np.random.default_rng(0).permutation(len(rows))
        if captions and group.startswith("removed"):  # captions first among the removed
            has = rows["caption"].notna().to_numpy()[order]
            order = np.concatenate([order[has][:per_group // 2], order[~has]])
        chosen.append(rows.iloc[order[:per_group]].assign(group=group))
    chosen = pd.concat(chosen, ignore_index=True)
    lines = {p: f"caption: {c}" for p, c in zip(chosen["path"], chosen["caption"])
             if isinstance(c, str)}
    return sample_grid(chosen, f"WEBEmo, the text filter ({ws.name} profile)", size, lines)


def dataset_outputs(dataset: str, data_root=None, per_group: int = 6) -> list:
    """What the Data page shows of one dataset, per profile whose data holds it.

    Parameters
    ----------
    dataset : str
    data_root : path, optional
        The data home (default :func:`sadutils.workspace.data_home`).
    per_group : int
        Images per class in the grid.

    Returns
    -------
    list of tuple
        ``("markdown", text)`` or ``("image", Png)``: per profile a heading, the counts and
        the grid; one line saying so when no profile has the dataset.
    """
    out = []
    for ws in data_workspaces(data_root):
        manifest = load(ws, dataset)
        if manifest is None or manifest.empty:
            continue
        label = ("DEMO profile: synthetic images drawn by `sadutils.demo`" if ws.name == "demo"
                 else "PAPER profile: your copy of the real dataset")
        out.append(("markdown", f"**{label}** (`{shown_path(ws.dataset_dir(dataset))}`)."))
        out.append(("markdown", format_table(dataset_counts(ws, dataset, manifest))))
        by = GRID_BY[dataset]
        fig = sample_grid(pick(manifest, by, per_group),
                          f"{TITLES[dataset]}: {per_group} images per "
                          f"{'class' if by == 'label' else by.replace('_', ' ')} "
                          f"({ws.name} profile, chosen at random)")
        out.append(("image", Png(figure_png(fig, dpi=90))))
    return out or [("markdown", f"*No {TITLES[dataset]} data on this machine when the book was "
                                "built: run `sadutils reproduce` (the demo data is generated "
                                "then) or point `SADUTILS_DATA` at your copy.*")]


def filter_outputs(data_root=None, per_group: int = 6) -> list:
    """What the Data page shows of the text filter on WEBEmo, per profile that ran notebook 02.

    Parameters
    ----------
    data_root : path, optional
    per_group : int

    Returns
    -------
    list of tuple
        As for :func:`dataset_outputs`; with the demo's positive control stated as its
        ``DEMO_DATA.json`` has it.
    """
    out = []
    for ws in data_workspaces(data_root):
        control = (describe_demo(ws.data, missing_ok=True) or {}).get("positive_control")
        if control:
            rate = control.get("rate", {})
            text_rate = control.get("text_rate", {})
            out.append(("markdown", (
                f"**The demo's positive control.** Captions of sad words "
                f"({', '.join(repr(c) for c in control.get('captions', []))}) are drawn on "
                f"{100 * rate.get(SADNESS, 0):.0f}% of the WEBEmo-like sadness images and "
                f"{100 * rate.get(OTHERS, 0):.0f}% of the others images (part of the "
                f"{100 * text_rate.get(SADNESS, 0):.0f}% and "
                f"{100 * text_rate.get(OTHERS, 0):.0f}% of each class that carry text), so that "
                "a model trained without the text filter can learn to use them; the chapter "
                "{doc}`text_ablation` checks that it finds one that did. Stated in the demo "
                f"data's `DEMO_DATA.json` (`{shown_path(ws.data / 'DEMO_DATA.json')}`).")))
        fig = text_filter_grid(ws, per_group)
        if fig is not None:
            out.append(("image", Png(figure_png(fig, dpi=90))))
    return out or [("markdown", "*Notebook 02 has not run on this machine: no filtered sample "
                                "to show.*")]
