"""WEBEmo (Panda et al., ECCV 2018): its files, its label rules, and its loader.

WEBEmo is distributed as text: ``category.txt`` (the 25 fine labels, each with its level-2
group and polarity) and the list files ``train25.txt`` / ``test25.txt`` (lines
``<url> <label>``); the images must be downloaded from the URLs. The rules that turn those lines
into a binary-labelled table live here once, and both the loader (:func:`load_webemo`) and the
downloader (:func:`sadutils.data.download.download_webemo`) use them:

* a fine label is *sadness* when its level-2 group is sadness (optionally also confusion);
* a URL listed more than once keeps its first line, unless its lines disagree on the binary
  label: then it is ambiguous and dropped;
* a downloaded image lives at ``images/<url_to_filename(url)>``.
"""
from __future__ import annotations

import ast
import hashlib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

from ..config import OTHERS, SADNESS, WEBEMO_CONFUSION_FINE, WEBEMO_SADNESS_FINE
from .formats import Loaded, dataset_root, finish, format_error, label_counts, read_text

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: The list files of the WEBEmo distribution, in the order they are read.
LIST_FILES = ("train25.txt", "test25.txt")


def url_to_filename(url: str) -> str:
    """A safe, collision-free file name for ``url``.

    A hash of the whole URL makes names unique (two URLs ending in the same ``image.jpg`` differ);
    the readable tail is reduced to ``[A-Za-z0-9._-]`` so that no name can climb out of the
    download folder (``..``, ``/``, ``\\`` and NUL never survive).

    Parameters
    ----------
    url : str
        The image's URL, as written in a list file.

    Returns
    -------
    str
        ``<16 hex digits>_<readable stem>.jpg``.
    """
    digest = hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    try:
        tail = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    except ValueError:  # a malformed URL (http://[::1) still gets a name; its download fails
        tail = ""
    stem = _SAFE.sub("_", tail.rsplit(".", 1)[0]).strip("._")[:40] or "image"
    return f"{digest}_{stem}.jpg"


def sadness_fine_labels(include_confusion: bool = False, categories=None) -> set[int]:
    """The fine label indices counted as *sadness*.

    Parameters
    ----------
    include_confusion : bool
        Also count the level-2 group *confusion* (some third-party code does; the official
        hierarchy makes it its own group, hence off by default).
    categories : list of tuple, optional
        The parsed ``category.txt`` (:func:`parse_category_file`): the group is then read from
        its level-2 names; without it, the official indices of
        :data:`sadutils.config.WEBEMO_SADNESS_FINE` are used.

    Returns
    -------
    set of int
    """
    wanted = {"sadness", "confusion"} if include_confusion else {"sadness"}
    if categories is not None:
        return {i for i, (_, level2, _) in enumerate(categories) if level2 in wanted}
    fine = set(WEBEMO_SADNESS_FINE)
    return fine | {WEBEMO_CONFUSION_FINE} if include_confusion else fine


def binary_labels(rows: pd.DataFrame, sadness_fine) -> tuple[pd.DataFrame, set]:
    """Label list rows *sadness* / *others* and drop ambiguous URLs.

    Parameters
    ----------
    rows : DataFrame
        Parsed list lines with columns ``url`` and ``fine_index``
        (:func:`parse_webemo_list`), in file order.
    sadness_fine : set of int
        The fine labels counted as sadness (:func:`sadness_fine_labels`).

    Returns
    -------
    kept : DataFrame
        One row per URL (its first line) with a ``label`` column; URLs whose lines disagree on
        the binary label are left out.
    conflicting : set of str
        The URLs left out for that reason.
    """
    rows = rows.assign(label=np.where(rows["fine_index"].isin(sorted(sadness_fine)),
                                      SADNESS, OTHERS))
    n_labels = rows.groupby("url", sort=False)["label"].nunique()
    conflicting = set(n_labels.index[n_labels > 1])
    kept = rows[~rows["url"].isin(conflicting)].drop_duplicates("url", keep="first")
    return kept, conflicting


def parse_category_file(path) -> list[tuple[str, str, str]]:
    """Parse WEBEmo's ``category.txt`` into ``(level3, level2, polarity)`` tuples.

    The file is Python-like text (``labels=[('affection', 'love', '+'), ...]``, possibly over
    several lines, after a comment). It is parsed with :mod:`ast` (never evaluated), so a
    hostile file cannot run code. The list order is the label index order of the list files.

    Raises
    ------
    FormatError
        When there is no ``labels=`` list, it does not parse, or an entry is not three strings.
    """
    path = Path(path)
    text = read_text(path)
    expected = "labels=[('level3', 'level2', '+' or '-'), ...]"
    m = re.search(r"^[ \t]*labels[ \t]*=[ \t]*(?=[\[(])", text, re.M)
    if not m:
        raise format_error(path, f"a line starting {expected}", "no 'labels=' assignment")
    first_line = text.count("\n", 0, m.end()) + 1
    frag = text[m.end():]
    node, error, closer = None, None, "]" if frag[0] == "[" else ")"
    for close in (i for i, c in enumerate(frag) if c == closer):  # shortest prefix that parses
        try:
            node = ast.parse(frag[:close + 1], mode="eval").body
            break
        except SyntaxError as e:
            error = e
    if node is None:
        line = first_line + ((error.lineno or 1) - 1 if error else 0)
        found = f"unparsable text ({error.msg})" if error else f"no closing '{closer}'"
        raise format_error(path, expected, found, line)
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        raise format_error(path, expected, ast.get_source_segment(frag, node), first_line)
    labels = []
    for elt in node.elts:
        try:
            value = ast.literal_eval(elt)
        except Exception:  # ValueError for calls and names; anything else is just as malformed
            value = None
        if not (isinstance(value, (tuple, list)) and len(value) == 3
                and all(isinstance(v, str) for v in value)):
            raise format_error(path, "a tuple of three strings (level3, level2, polarity)",
                                ast.get_source_segment(frag, elt), first_line + elt.lineno - 1)
        labels.append(tuple(value))
    return labels


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S")


def parse_webemo_list(path, n_classes: int = 25) -> pd.DataFrame:
    """Parse a WEBEmo list file (``train25.txt``, ``test25.txt``): lines ``<url> <label>``.

    Trailing whitespace, CRLF line ends and blank lines are tolerated.

    Returns
    -------
    DataFrame with columns ``url``, ``fine_index`` (int, 0..n_classes-1) and ``line`` (1-based
    line number, to trace a row back to the file).

    Raises
    ------
    FormatError
        On the first malformed line, naming the file, the line number and its content.
    """
    path = Path(path)
    urls, labels, lines = [], [], []
    expected = f"'<url> <label>' with an integer label 0..{n_classes - 1}"
    for number, raw in enumerate(read_text(path).splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.rsplit(None, 1)
        # isascii: '²' and other digit-like characters pass isdigit() but not int()
        if (len(parts) != 2 or not (parts[1].isascii() and parts[1].isdigit())
                or int(parts[1]) >= n_classes or not _URL.match(parts[0])):
            raise format_error(path, expected, raw, number)
        urls.append(parts[0])
        labels.append(int(parts[1]))
        lines.append(number)
    return pd.DataFrame({"url": pd.Series(urls, dtype=object),
                         "fine_index": pd.Series(labels, dtype="int64"),
                         "line": pd.Series(lines, dtype="int64")})


EXPECTED = "category.txt, train25.txt/test25.txt and images/"


def webemo_urls(root, lists=LIST_FILES, include_confusion: bool = False):
    """The deduplicated WEBEmo URL table, with labels, whether downloaded or not.

    This is what the downloader samples from. URLs are deduplicated across all list files: a URL
    whose lines disagree on the *binary* label is ambiguous and dropped (``test25.txt`` has 734
    such URLs); one whose lines differ only in the fine label keeps its first line.

    Parameters
    ----------
    root : path
        Folder holding ``category.txt`` and the list files.
    lists : sequence of str
        List files to read (names under ``root`` or absolute paths); those missing are skipped
        and reported, but at least one must exist.
    include_confusion : bool
        Count fine label ``confusion`` as sadness (some third-party code does; the official
        hierarchy makes it its own group, hence off by default).

    Returns
    -------
    table : DataFrame
        Columns ``url``, ``fine_index``, ``fine_label``, ``label``, ``source_list``, in order of
        first appearance.
    info : dict
        ``n_lines``, ``n_unique_urls``, ``n_duplicate_lines``, ``n_conflicting_urls`` (dropped),
        ``n_fine_label_disagreements`` (kept, first wins), ``n_urls``, ``urls_by_label``,
        ``lists``, ``missing_lists``.
    """
    root = dataset_root(root, "WEBEmo", EXPECTED)
    if not (root / "category.txt").is_file():
        raise FileNotFoundError(f"{root / 'category.txt'} not found (expected {EXPECTED} in {root})")
    categories = parse_category_file(root / "category.txt")
    lists = [lists] if isinstance(lists, (str, os.PathLike)) else list(lists)
    present = [name for name in lists if (root / name).is_file()]
    if not present:
        raise FileNotFoundError(f"none of the list files {', '.join(map(str, lists))} found in {root} "
                                f"(expected {EXPECTED})")
    frames = [parse_webemo_list(root / name, len(categories)).assign(source_list=Path(name).name)
              for name in present]
    df = pd.concat(frames, ignore_index=True)
    df["fine_label"] = [categories[i][0] for i in df["fine_index"]]
    table, conflicting = binary_labels(df, sadness_fine_labels(include_confusion, categories))
    table = table[["url", "fine_index", "fine_label", "label", "source_list"]].reset_index(drop=True)
    per_url = df.groupby("url", sort=False).agg(n_fine=("fine_index", "nunique"))
    info = dict(
        lists=[str(n) for n in present], missing_lists=[str(n) for n in lists if n not in present],
        n_lines=len(df), n_unique_urls=len(per_url), n_duplicate_lines=len(df) - len(per_url),
        n_conflicting_urls=len(conflicting),
        n_fine_label_disagreements=int(((per_url["n_fine"] > 1)
                                        & ~per_url.index.isin(conflicting)).sum()),
        n_urls=len(table), urls_by_label=label_counts(table["label"]), include_confusion=include_confusion,
    )
    return table, info


def load_webemo(root, lists=LIST_FILES, include_confusion: bool = False,
                check: bool = True, images_dir: str = "images", workers: int = 4,
                progress: bool = False) -> Loaded:
    """Load WEBEmo: the deduplicated URL table joined with the downloaded images.

    An image is expected at ``root/images_dir/url_to_filename(url)`` (where the downloader saves
    it). Binary label: fine labels of the level-2 group sadness (4, 13, 19, 20, 21, 23) ->
    ``sadness``, all others -> ``others`` (see ``include_confusion`` in :func:`webemo_urls`).

    Returns
    -------
    Loaded
        Manifest extra columns: ``url``, ``fine_index``, ``source_list``. ``info`` holds the
        :func:`webemo_urls` counts plus ``n_downloaded`` (image file present), ``n_missing``
        (not downloaded) and ``n_unlisted_files`` (files in the image folder no URL maps to;
        hidden files, such as the ``.part`` files of a killed download, are not counted).
    """
    table, info = webemo_urls(root, lists, include_confusion)
    root = dataset_root(root, "WEBEmo", EXPECTED)
    folder = root / images_dir
    if not folder.is_dir():
        raise FileNotFoundError(f"WEBEmo image folder not found: {folder} (expected the images "
                                f"downloaded from the URLs in {', '.join(info['lists'])})")
    # Hidden names are the downloader's own (a killed run's .part files, its lock), not data.
    on_disk = {name for name in os.listdir(folder) if not name.startswith(".")}
    names = table["url"].map(url_to_filename)
    present = names.isin(on_disk)
    rows = table[present].assign(path=[str(folder / n) for n in names[present]])
    info.update(root=str(root), n_downloaded=int(present.sum()), n_missing=int((~present).sum()),
                n_unlisted_files=len(on_disk - set(names)))
    columns = ["path", "label", "fine_label", "url", "fine_index", "source_list"]
    return finish(rows[columns], columns, "webemo", info, (), check, workers, progress)


