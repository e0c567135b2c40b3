"""End-to-end steps that chain the other modules: getting the demo data ready, running notebooks.

Each function here is a whole step a user (or the ``sadutils`` command line) runs in one go; the
pieces it chains live in their own modules (:mod:`sadutils.demo`, :mod:`sadutils.download`,
:mod:`sadutils.datasets`).
"""
from __future__ import annotations

from pathlib import Path

from . import config, demo, download

# ============================================================================================
# Demo data
# ============================================================================================

#: Threads for "downloading" the demo's file:// URLs: local copies, so a couple suffice.
DEMO_DOWNLOAD_WORKERS = 2
#: The demo's WEBEmo-like list files, downloaded in this order into one images/ folder.
DEMO_WEBEMO_LISTS = ("train25.txt", "test25.txt")


def ensure_demo_data(out_dir=None, seed: int = 1234, scale: float = 1.0, force: bool = False,
                     progress: bool = True) -> dict[str, Path]:
    """Make the demo datasets ready to load, exactly as a user's real data would be.

    Generates the synthetic datasets (:func:`sadutils.demo.generate_demo_data`), then downloads
    the images of the WEBEmo-like lists (``file://`` URLs into the generated "CDN") with
    :func:`sadutils.download.download_webemo`, both lists into the same ``webemo/images/`` so
    that :func:`sadutils.datasets.load_webemo` finds them, just as it would after downloading
    the real WEBEmo. Dead URLs and corrupt files planted by the generator end up in
    ``webemo/downloads.csv`` with their failure status, not in ``images/``.

    Both steps are resumable: the generator reuses a finished set with the same seed and scale
    (unless ``force``), and the downloader skips files it already has, so a second call only
    checks and returns.

    Parameters
    ----------
    out_dir : path, optional
        Where to put the demo data; default ``config.DEMO.data_root()`` (``data/demo``).
    seed, scale, force
        Passed to :func:`~sadutils.demo.generate_demo_data` (``scale`` multiplies every count).
    progress : bool
        Show download progress bars.

    Returns
    -------
    dict
        Dataset name (``webemo``, ``unbiasedemo``, ``emotion6``, ``cocotext``, ``rgp``) to the
        root folder its loader takes.
    """
    out_dir = Path(out_dir) if out_dir is not None else config.DEMO.data_root()
    roots = demo.generate_demo_data(out_dir, seed=seed, scale=scale, force=force)
    webemo = roots["webemo"]
    for name in DEMO_WEBEMO_LISTS:
        download.download_webemo(webemo / name, webemo, workers=DEMO_DOWNLOAD_WORKERS,
                                 retries=0, progress=progress)
    return roots


# ============================================================================================
# Notebooks (to come)
# ============================================================================================
