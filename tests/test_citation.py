"""The repository says how to cite it and under which license, consistently: CITATION.cff,
LICENSE and pyproject.toml agree, and references.bib holds every key the book cites."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_citation_file_matches_the_package():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for key in ("cff-version", "message", "title", "authors"):  # required by CFF 1.2.0
        assert cff.get(key), key
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == project["version"] and cff["license"] == project["license"]
    paper = cff["references"][0]
    assert paper["title"].startswith("On recognizing emotion of sadness in images")
    assert [a["family-names"] for a in paper["authors"]] == ["Motiejauskas", "Dzemyda"]
    assert all("Vilnius University" in a["affiliation"] for a in paper["authors"])


def test_license_file_is_the_mit_license_pyproject_names():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert project["project"]["license-files"] == ["LICENSE"]
    floor = re.fullmatch(r"setuptools>=(\d+)\.[\d.]+", project["build-system"]["requires"][0])
    assert floor and int(floor.group(1)) >= 77  # PEP 639 license expressions: setuptools 77


def test_every_cited_key_is_in_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))
    cited = set()
    for page in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", page.read_text()):
            cited.update(k.strip() for k in group.split(","))
    assert cited and cited <= keys, sorted(cited - keys)
    # The paper and its seven references are there.
    assert {"motiejauskas_sadness", "panda2018contemplating", "chollet2017xception",
            "roy2018degradations", "tan2021efficientnetv2", "russakovsky2015imagenet",
            "szegedy2016rethinking", "gomez2017icdar"} <= keys
