"""Fixtures of the experiment tests: small WEBEmo-shaped manifests of random-noise images."""
from __future__ import annotations

import pandas as pd
import pytest

from sadutils.config import OTHERS, SADNESS


@pytest.fixture
def noise_manifest(tmp_path, write_jpeg):
    """``noise_manifest(n_sad, n_other, corrupt=1)``: a WEBEmo-shaped manifest of noise JPEGs in
    ``tmp_path/imgs`` (sadness rows first), then ``corrupt`` files that are no images."""

    def make(n_sad: int = 6, n_other: int = 8, corrupt: int = 1) -> pd.DataFrame:
        folder = tmp_path / "imgs"
        rows = []
        for i in range(n_sad + n_other):
            path = write_jpeg(folder / f"img{i:03d}.jpg", seed=i)
            rows.append({"path": str(path), "label": SADNESS if i < n_sad else OTHERS,
                         "fine_label": "x", "dataset": "webemo"})
        for j in range(corrupt):
            path = folder / f"broken{j}.jpg"
            path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
            rows.append({"path": str(path), "label": OTHERS, "fine_label": "x",
                         "dataset": "webemo"})
        return pd.DataFrame(rows)

    return make
