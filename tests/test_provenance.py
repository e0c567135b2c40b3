"""Provenance: the commit, versions and hardware every record and benchmark file carries."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from sadutils import provenance as prov_module
from sadutils.provenance import commit, git, provenance, version


def test_provenance_fields():
    prov = provenance(seed=3, manifest_hash="abc", wall_time_s=1.5)
    assert prov["seed"] == 3 and prov["manifest_hash"] == "abc" and prov["wall_time_s"] == 1.5
    assert prov["created_at"].endswith("+00:00")
    created = datetime.fromisoformat(prov["created_at"])
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60
    assert prov["versions"]["numpy"] == np.__version__
    assert prov["versions"]["pandas"] == pd.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", prov["versions"]["python"])
    assert prov["hardware"]["cpu_count"] >= 1
    assert prov["hardware"]["memory_bytes"] is None or prov["hardware"]["memory_bytes"] > 2**20
    assert set(prov) == {"git_commit", "git_dirty", "created_at", "seed", "manifest_hash",
                         "versions", "hardware", "wall_time_s"}
    json.dumps(prov, allow_nan=False)  # plain JSON already
    bare = provenance()
    assert bare["seed"] is None and bare["wall_time_s"] is None


def test_provenance_names_the_commit(monkeypatch):
    answers = {("rev-parse", "HEAD"): "0123abc\n",
               ("status", "--porcelain", "--untracked-files=no"): " M sadutils/x.py\n"}
    monkeypatch.setattr(prov_module, "git", lambda *args, cwd=None: answers.get(args))
    assert commit() == ("0123abc", True)
    prov = provenance()
    assert prov["git_commit"] == "0123abc" and prov["git_dirty"] is True
    answers[("status", "--porcelain", "--untracked-files=no")] = ""
    assert commit() == ("0123abc", False)
    answers.clear()  # no git, or not a checkout
    assert commit() == (None, None)
    assert provenance()["git_commit"] is None and provenance()["git_dirty"] is None


def test_git_outside_a_checkout_is_none(tmp_path):
    assert git("rev-parse", "HEAD", cwd=tmp_path) is None
    assert git("no-such-command") is None


def test_version_of_installed_and_missing_distributions():
    assert version("numpy") == np.__version__
    assert version("no-such-distribution-here") is None


@pytest.mark.parametrize("key", ["tensorflow", "keras", "sklearn", "pillow", "sadutils"])
def test_versions_name_the_libraries_results_depend_on(key):
    assert provenance()["versions"][key]  # installed in this environment
