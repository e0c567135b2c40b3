"""The lock file that the README's commands and CI install: in step with pyproject.toml."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock-linux-py311.txt"


def _locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^ \\;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1).split("[")[0])] = match.group(2)
    return pins


def test_every_dependency_is_locked_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    locked = _locked()
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in {LOCK.name}: run scripts/lock.sh"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{LOCK.name} pins {name}=={locked[name]}, outside {requirement.specifier}: "
            "run scripts/lock.sh")


def test_every_pin_has_hashes():
    text = LOCK.read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    pinned = [e for e in entries if "==" in e.split("\n", 1)[0]]
    assert len(pinned) == len(_locked()) > 50
    assert all("--hash=sha256:" in entry for entry in pinned)
