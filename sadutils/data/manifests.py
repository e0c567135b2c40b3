"""Manifests: sampling, splitting, saving and identifying the tables every step passes on.

A manifest (see :mod:`sadutils.data.formats`) is the hand-off between the steps of the
pipeline: the WEBEmo sample, its filtered version, the fixed train/val/test split. Draws and
splits here depend only on the seed and the *set* of rows (ordered by :func:`row_keys`), never
on row order or on where the data lives, so a split made once is reproducible from the seed.
"""
from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import MANIFEST_COLUMNS
from ..fileio import atomic_path
from .formats import format_error


def _rng(seed: int, label) -> np.random.Generator:
    """A generator per (seed, label): results do not depend on the order classes are visited."""
    return np.random.default_rng([int(seed), zlib.crc32(str(label).encode("utf-8"))])


def row_keys(manifest: pd.DataFrame) -> pd.Series:
    """The identity that orders rows before a seeded draw, independent of where data lives.

    The image path, except for rows with a ``url`` (WEBEmo): there the URL, since a downloaded
    file's name is derived from its URL. A ``file://`` URL (the demo's) names the machine's data
    folder, so only its file name counts: the demo then draws the same sample wherever its data
    folder is.
    """
    keys = manifest["path"].astype(str)
    if "url" not in manifest.columns:
        return keys
    urls = manifest["url"].fillna("").astype(str)
    local = urls.str.startswith("file:")
    urls = urls.where(~local, "file:" + urls.str.rsplit("/", n=1).str[-1])
    return urls.where(urls.str.len() > 0, keys)


def in_key_order(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` sorted by :func:`row_keys` (index kept): the order training sees them in."""
    return rows.iloc[np.argsort(row_keys(rows).to_numpy(), kind="stable")]


def sample_per_class(manifest: pd.DataFrame, counts: dict, seed: int) -> pd.DataFrame:
    """Draw ``counts[label]`` rows at random from each label, reproducibly.

    The paper drew 8,549 sadness and 9,971 others images from WEBEmo. The draw depends only on
    the seed and the set of rows (ordered by :func:`row_keys`), not on the manifest's row order. Labels not in ``counts``
    are left out.

    Returns
    -------
    DataFrame: the chosen rows (original index kept), sorted by path.

    Raises
    ------
    ValueError
        When a label has fewer rows than asked, naming the label, the number asked and available.
    """
    parts = []
    for label, n in counts.items():
        rows = in_key_order(manifest[manifest["label"] == label])
        if n > len(rows):
            raise ValueError(f"class {label!r}: asked for {n} images but only {len(rows)} available")
        parts.append(rows.iloc[np.sort(_rng(seed, label).choice(len(rows), size=n, replace=False))])
    if not parts:
        return manifest.iloc[:0]
    return pd.concat(parts).sort_values("path", kind="stable")


def stratified_split(manifest: pd.DataFrame, fractions=(0.70, 0.15, 0.15), seed: int = 1234,
                     within=()) -> pd.Series:
    """Assign each row to ``"train"``, ``"val"`` or ``"test"``, stratified by label.

    Within each label (and each combination of the ``within`` columns), rows are sorted by
    :func:`row_keys` (the path, or a WEBEmo row's URL), shuffled with a generator seeded by
    ``seed`` and the stratum, and cut at the cumulative fractions (rounded half up), so each
    split has the label proportions of the whole and the assignment of a row depends only on
    the seed and the set of rows in its stratum, never on the row order.

    Parameters
    ----------
    manifest : DataFrame
        With ``label`` (and the ``within`` columns).
    fractions : sequence of float
        Train, validation and test shares.
    seed : int
    within : sequence of str
        More columns to stratify by (missing values form a stratum of their own): the WEBEmo
        sample is split by label and by each text method's decision, so that every subset a
        text filter keeps is itself split in these proportions.

    Returns
    -------
    Series named ``split``, aligned with ``manifest.index``.

    Raises
    ------
    ValueError
        For fractions that are not three non-negative numbers summing to 1; and when a part
        with a fraction above 0 would lack a class (or be empty): a model trained, validated
        or tested on such a part says nothing, so the split stops here, naming the part, the
        class and its size.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    split = pd.Series("", index=manifest.index, name="split", dtype=object)
    if manifest.empty:
        raise ValueError("cannot split an empty manifest: the step before the split left no "
                         "images")
    within = list(within)
    strata = manifest[["label"]].assign(**{c: manifest[c].astype(object).where(
        manifest[c].notna(), "NA").astype(str) for c in within})
    for key, rows in strata.groupby(["label", *within], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        order = in_key_order(manifest.loc[rows.index]).index
        n = len(order)
        cut1 = int(np.floor(n * fractions[0] + 0.5))
        cut2 = int(np.floor(n * (fractions[0] + fractions[1]) + 0.5))
        names = np.array(["train"] * cut1 + ["val"] * (cut2 - cut1) + ["test"] * (n - cut2),
                         dtype=object)
        # One label alone keeps the generator of a split without strata (the same split).
        stratum = key[0] if len(key) == 1 else "|".join(map(str, key))
        split.loc[order[_rng(seed, stratum).permutation(n)]] = names
    for label, parts in split.groupby(manifest["label"], sort=True):
        for part, fraction in zip(("train", "val", "test"), fractions):
            if fraction > 0 and not (parts == part).any():
                raise ValueError(
                    f"splitting {len(manifest)} images {'/'.join(f'{f:g}' for f in fractions)} "
                    f"leaves the {part} part without any {label!r} image (that class has only "
                    f"{len(parts)}); more images of it are needed, or other split fractions")
    return split


# ----------------------------------------------------------------------------- manifest files

def save_manifest(df: pd.DataFrame, path) -> Path:
    """Write a manifest as CSV, atomically (folders created).

    Parameters
    ----------
    df : DataFrame
    path : path

    Returns
    -------
    Path
    """
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def read_manifest(path) -> pd.DataFrame:
    """Read a manifest CSV written by :func:`save_manifest`, checking its required columns.

    The MANIFEST_COLUMNS are read as strings (an empty fine_label stays "").

    Raises
    ------
    FormatError
        Naming the file and the missing columns.
    """
    path = Path(path)
    df = pd.read_csv(path, dtype={c: str for c in MANIFEST_COLUMNS})
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise format_error(path, f"a manifest CSV with columns {', '.join(MANIFEST_COLUMNS)}",
                            f"missing column(s) {', '.join(missing)}", 1)
    df[list(MANIFEST_COLUMNS)] = df[list(MANIFEST_COLUMNS)].fillna("")
    return df


def manifest_hash(df: pd.DataFrame) -> str:
    """SHA-256 of the sorted (path, label) pairs: identifies a manifest's content, any row order."""
    lines = sorted(f"{p}\t{l}\n" for p, l in zip(df["path"].astype(str), df["label"].astype(str)))
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
