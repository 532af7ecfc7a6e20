"""requirements/*.txt, the per-image locks: one version of each package across all of them.

A model pickled in a stage image (cloudpickle, scikit-learn, numpy, pandas...) is loaded in
the API and the app images, and the Airflow image imports the same carprice package, so a
package that several locks pin must have the same version in every one of them. `make lock`
compiles every lock against requirements/constraints.txt, one resolution of them all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from tests.conftest import REPO

LOCKS = sorted((REPO / "requirements").glob("*.txt"))
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>\S+)$")

# Packages allowed to differ between locks, with the reason. Empty: there is one
# resolution for all the images, the Airflow one included.
ALLOWED_DIFFERENCES: dict[str, str] = {}


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(path: Path) -> dict[str, str]:
    """{normalised name: version} of a uv-compiled lock; any other line is an error."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}:{number}: not a `name==version` pin: {raw!r}"
        name = normalize(match["name"])
        assert name not in pins, f"{path.name}:{number}: {name} pinned twice"
        pins[name] = match["version"]
    return pins


def version_conflicts(locks: dict[str, dict[str, str]]) -> dict[str, dict[str, list[str]]]:
    """{package: {version: [lock names]}} for each package pinned at several versions."""
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for lock, pins in locks.items():
        for name, version in pins.items():
            seen[name][version].append(lock)
    return {name: dict(versions) for name, versions in sorted(seen.items())
            if len(versions) > 1}


def test_the_locks_are_there():
    names = {p.stem for p in LOCKS}
    assert {"data", "ml", "monitor", "app", "api", "server", "dev", "airflow"} <= names


def test_normalize_follows_pep_503():
    assert normalize("PyYAML") == normalize("pyyaml") == "pyyaml"
    assert normalize("typing_extensions") == normalize("typing.extensions") == "typing-extensions"
    assert normalize("Zope__Interface") == "zope-interface"


def test_version_conflicts_lists_every_lock_of_each_version():
    locks = {"api": {"cloudpickle": "3.1.3", "numpy": "2.4.6"},
             "ml": {"cloudpickle": "3.1.2", "numpy": "2.4.6"},
             "app": {"cloudpickle": "3.1.2"}}
    assert version_conflicts(locks) == {"cloudpickle": {"3.1.3": ["api"],
                                                        "3.1.2": ["ml", "app"]}}


def test_every_package_has_one_version_across_the_locks():
    locks = {path.stem: parse_lock(path) for path in LOCKS}
    conflicts = {name: versions for name, versions in version_conflicts(locks).items()
                 if name not in ALLOWED_DIFFERENCES}
    report = "\n".join(
        f"  {name}: " + "; ".join(f"{v} in {', '.join(sorted(ls))}" for v, ls in versions.items())
        for name, versions in conflicts.items())
    assert not conflicts, f"pinned at different versions in requirements/*.txt:\n{report}"


def test_allowed_differences_are_still_needed():
    locks = {path.stem: parse_lock(path) for path in LOCKS}
    stale = set(ALLOWED_DIFFERENCES) - set(version_conflicts(locks))
    assert not stale, f"no longer differ, drop them from ALLOWED_DIFFERENCES: {sorted(stale)}"
