"""Making the demo datasets ready to load, exactly as a user's real data would be."""
from __future__ import annotations

from pathlib import Path

from ..data.download import download_webemo
from ..data.webemo import LIST_FILES
from .generate import generate_demo_data
from .writers import CDN_NAME

#: Threads for "downloading" the demo's file:// URLs: local copies, so a couple suffice.
DOWNLOAD_WORKERS = 2
#: Seconds a caller waits for another process checking or downloading the demo images (the
#: notebooks of a demo start side by side and each checks them): far more than a download of
#: the demo takes.
DOWNLOAD_LOCK_WAIT = 600.0


def ensure_demo_data(out_dir, seed: int = 1234, scale: float = 1.0, force: bool = False,
                     progress: bool = True) -> dict[str, Path]:
    """Generate the demo datasets and download the WEBEmo-like images, as a user would.

    Generates the synthetic datasets (:func:`~sadutils.demo.generate.generate_demo_data`), then
    downloads the images of the WEBEmo-like lists (``file://`` URLs into the generated "CDN")
    with :func:`sadutils.data.download.download_webemo`, both lists into the same
    ``webemo/images/`` folder, just as after downloading the real WEBEmo. Dead URLs and corrupt
    files planted by the generator end up in ``webemo/downloads.csv`` with their failure
    status, not in ``images/``. Both steps are resumable: the generator reuses a finished set
    with the same seed and scale (unless ``force``) and the downloader skips files it has, so a
    second call only checks and returns.

    Parameters
    ----------
    out_dir : path
        Where the demo data goes (the demo workspace's data folder, ``data/demo``).
    seed, scale, force
        Passed to :func:`~sadutils.demo.generate.generate_demo_data` (``scale`` multiplies every
        count).
    progress : bool
        Show download progress bars.

    Returns
    -------
    dict
        Dataset name (``webemo``, ``unbiasedemo``, ``emotion6``, ``cocotext``, ``rgp``) to the
        folder its loader takes.

    Raises
    ------
    ValueError
        For a negative seed or a scale that is not a positive number.
    """
    roots = generate_demo_data(out_dir, seed=seed, scale=scale, force=force)
    webemo = roots["webemo"]
    for name in LIST_FILES:  # the lists' file:// URLs may read the generated "CDN" only
        download_webemo(webemo / name, webemo, workers=DOWNLOAD_WORKERS, retries=0,
                        progress=progress, file_root=webemo.parent / CDN_NAME,
                        wait=DOWNLOAD_LOCK_WAIT)
    return roots
