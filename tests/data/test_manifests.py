"""Manifests (sadutils.data.manifests): seeded sampling and splits, files, content hashes."""
from __future__ import annotations

import pandas as pd
import pytest

from sadutils.config import MANIFEST_COLUMNS
from sadutils.data.formats import FormatError
from sadutils.data.manifests import (in_key_order, manifest_hash, read_manifest, row_keys,
                                     sample_per_class, save_manifest, stratified_split)


def _manifest(n_sad=100, n_oth=60):
    labels = ["sadness"] * n_sad + ["others"] * n_oth
    return pd.DataFrame({"path": [f"/d/{i:04d}.jpg" for i in range(len(labels))], "label": labels,
                         "fine_label": labels, "dataset": "demo"})


def test_stratified_split():
    m = _manifest()
    split = stratified_split(m, seed=7)
    assert split.index.equals(m.index) and split.name == "split"
    counts = pd.crosstab(m["label"], split)
    assert counts.loc["sadness"].to_dict() == {"test": 15, "train": 70, "val": 15}
    assert counts.loc["others"].to_dict() == {"test": 9, "train": 42, "val": 9}
    assert split.equals(stratified_split(m, seed=7))
    shuffled = m.sample(frac=1, random_state=3)
    other = stratified_split(shuffled, seed=7)
    assert dict(zip(shuffled["path"], other)) == dict(zip(m["path"], split))
    assert not split.equals(stratified_split(m, seed=8))
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(m, fractions=(0.5, 0.3, 0.3))


def test_sample_per_class():
    m = _manifest()
    a = sample_per_class(m, {"sadness": 10, "others": 5}, seed=1)
    assert a["label"].value_counts().to_dict() == {"sadness": 10, "others": 5}
    assert a["path"].is_monotonic_increasing and a.index.isin(m.index).all()
    shuffled = m.sample(frac=1, random_state=0)
    b = sample_per_class(shuffled, {"others": 5, "sadness": 10}, seed=1)
    assert a["path"].tolist() == b["path"].tolist()
    assert a["path"].tolist() != sample_per_class(m, {"sadness": 10, "others": 5}, seed=2)["path"].tolist()
    with pytest.raises(ValueError, match="'others': asked for 61 images but only 60 available"):
        sample_per_class(m, {"others": 61}, seed=1)
    assert sample_per_class(m, {}, seed=1).empty


def test_row_keys_prefer_urls_and_ignore_the_local_folder():
    m = pd.DataFrame({
        "path": ["/data/a/images/1.jpg", "/data/a/images/2.jpg", "/data/a/images/3.jpg",
                 "/data/a/images/4.jpg"],
        "url": ["https://cdn.example/x.jpg", "file:///home/me/demo/webemo_cdn/y.jpg", "", None]})
    keys = row_keys(m).tolist()
    assert keys == ["https://cdn.example/x.jpg", "file:y.jpg", "/data/a/images/3.jpg",
                    "/data/a/images/4.jpg"]
    moved = m.assign(url=m["url"].str.replace("/home/me/demo", "/srv/elsewhere", regex=False),
                     path=m["path"].str.replace("/data/a", "/data/b", regex=False))
    assert row_keys(moved).tolist()[:2] == keys[:2]  # the file:// folder does not count
    assert row_keys(m.drop(columns="url")).tolist() == m["path"].tolist()
    # in key order, whatever the row order; the index is kept
    assert in_key_order(m).index.tolist() == in_key_order(m.iloc[::-1]).index.tolist() == [2, 3, 1, 0]


def test_manifest_io_and_hash(tmp_path):
    m = _manifest(3, 2)
    m.loc[0, "fine_label"] = ""
    path = save_manifest(m, tmp_path / "sub" / "manifest.csv")
    back = read_manifest(path)
    assert back[list(MANIFEST_COLUMNS)].equals(m[list(MANIFEST_COLUMNS)].astype(back["path"].dtype))
    assert back.loc[0, "fine_label"] == ""
    assert manifest_hash(m) == manifest_hash(m.iloc[::-1]) == manifest_hash(back)
    changed = m.copy()
    changed.loc[0, "label"] = "others"
    assert manifest_hash(changed) != manifest_hash(m)
    m.drop(columns=["label", "dataset"]).to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"manifest\.csv.*label, dataset"):
        read_manifest(path)


def test_save_manifest_is_atomic(tmp_path, monkeypatch):
    """A write that fails half-way leaves the previous manifest whole and no temp file."""
    path = save_manifest(_manifest(3, 2), tmp_path / "manifest.csv")
    before = path.read_bytes()
    real_to_csv = pd.DataFrame.to_csv

    def fail_half_way(self, target, *args, **kwargs):
        real_to_csv(self.iloc[:1], target, *args, **kwargs)  # some bytes reach the disk
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_half_way)
    with pytest.raises(OSError, match="No space left"):
        save_manifest(_manifest(50, 50), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.csv"]
    assert len(read_manifest(path)) == 5
    # and a successful write replaces it
    save_manifest(_manifest(50, 50), path)
    assert len(read_manifest(path)) == 100
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.csv"]


@pytest.mark.parametrize("n_sadness, part", [(2, "test"), (1, "val"), (0, None)])
def test_split_with_an_empty_part_is_refused_at_the_split(n_sadness, part):
    m = _manifest()
    m = pd.concat([m[m["label"] == "others"], m[m["label"] == "sadness"].head(n_sadness)])
    if part is None:  # a class absent altogether is not split (nothing to leave out)
        assert set(stratified_split(m, seed=1)) == {"train", "val", "test"}
        return
    with pytest.raises(ValueError, match=rf"leaves the {part} part without any 'sadness' "
                                         rf"image \(that class has only {n_sadness}\)"):
        stratified_split(m, seed=1)
    assert set(stratified_split(m, fractions=(1, 0, 0), seed=1)) == {"train"}  # asked for


def test_split_of_nothing_is_refused():
    with pytest.raises(ValueError, match="empty manifest"):
        stratified_split(_manifest().iloc[:0], seed=1)
