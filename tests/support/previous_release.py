"""The previous release as real code: its tree from this repository's history, run from the same virtualenv.

``git archive`` takes the release's packages into a temporary folder; each program is a small shell script
running one of its console entry points with that folder first on the path (``python -P``: nothing of
today's tree leaks in). Version-skew and upgrade tests run it beside today's code.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The last release before protocol versions were named (its points speak protocol 1) and before schema
# migrations (its databases carry no alembic_version: revision 0001 of each side is its schema).
PREVIOUS_RELEASE = "4315ee0e9334bda86e4cb2efb570ee004c3dac8e"
# The last landed commit whose points speak protocol 2, before hub messages and catalog items gained protocol 3's
# fields. It never shipped as a release, but builds of it may run in pilot counties, so the hub still speaks to them.
LAST_PROTOCOL_2 = "3cd4c5104f729b70b8a1751135108fd7be4acb90"
# The last commit whose points speak protocol 4, before the residents' side (pre-checks, bookings, e-certificates)
# added catalog fields and message kinds: counties upgrade their points months after their hub.
LAST_PROTOCOL_4 = "0b6f7d9d4ddd47b387f2abdad8acec101df6d560"


@dataclass(frozen=True)
class Release:
    tree: Path
    pointkit: str
    pointkit_hub: str

    @property
    def sample_catalog(self) -> Path:
        return self.tree / "hub" / "data" / "sample_catalog.json"


def previous_release(tmp_path: Path, commit: str = PREVIOUS_RELEASE) -> Release:
    """The ``pointkit`` and ``pointkit-hub`` commands of the previous release (or of ``commit``) under ``tmp_path``."""
    tree = tmp_path / f"release-{commit[:7]}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "pointkit", "sync", "hub"],
                             capture_output=True)
    if archive.returncode != 0:
        pytest.fail(f"this test needs the repository's history (git archive {commit[:7]}): "
                    f"{archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return Release(tree, _program(tmp_path / f"pointkit-{commit[:7]}", tree, "pointkit", "pointkit.cli"),
                   _program(tmp_path / f"pointkit-hub-{commit[:7]}", tree, "pointkit-hub", "hub.cli"))


def _program(path: Path, tree: Path, name: str, module: str) -> str:
    path.write_text(f"#!/bin/sh\nPYTHONPATH={tree} exec {sys.executable} -P -c "
                    f"'import sys; sys.argv[0] = \"{name}\"; from {module} import main; main()' \"$@\"\n")
    path.chmod(0o755)
    return str(path)
