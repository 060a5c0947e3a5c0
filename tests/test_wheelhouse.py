"""scripts/wheelhouse: the offline install folder installs pointkit with no index at all."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.long
def test_wheelhouse_installs_offline_and_carries_data_files(tmp_path, monkeypatch):
    # Nothing of this checkout on the installed copy's path (tests/conftest.py puts it there for the servers).
    monkeypatch.delenv("PYTHONPATH", raising=False)
    out = tmp_path / "usb"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "wheelhouse.py"), "--out", str(out),
                    "--target", f"linux-cp3{sys.version_info.minor}"], check=True, timeout=600)
    assert (out / "install.bat").read_bytes().count(b"\r\n") > 3  # Windows line ends for cmd.exe
    target = tmp_path / "laptop-env"
    # No pip configuration at all: only the folder's own wheels may be used.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    subprocess.run(["sh", str(out / "install.sh"), str(target)], check=True, env=env, timeout=600)
    for command in ("pointkit", "pointkit-hub"):
        shown = subprocess.run([str(target / "bin" / command), "--help"], capture_output=True, text=True)
        assert shown.returncode == 0 and "Usage:" in shown.stdout
    # Running the script again upgrades in place: the folder's code replaces what is installed even at the same
    # version number (a rebuilt release), and the script says which version it left there.
    # -P and a cwd outside the checkout: the installed copy, never this checkout's own hub/.
    installed = Path(subprocess.run([str(target / "bin" / "python"), "-P", "-c", "import hub; print(hub.__file__)"],
                                    capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip())
    assert installed.is_relative_to(target)
    fresh = installed.read_text(encoding="utf-8")
    installed.write_text("raise SystemExit('the old release is still installed')\n", encoding="utf-8")
    again = subprocess.run(["sh", str(out / "install.sh"), str(target)], check=True, env=env, timeout=600,
                           capture_output=True, text=True)
    assert installed.read_text(encoding="utf-8") == fresh
    version = subprocess.run([str(target / "bin" / "pointkit"), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    release = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert version == f"pointkit, version {release}" and f"installed: {version} in {target}" in again.stdout
    probe = ("import importlib.resources as r, json;"
             "assert json.loads((r.files('hub') / 'data' / 'sample_catalog.json').read_text('utf-8'))['items'];"
             "assert (r.files('pointkit') / 'templates' / 'base.html').is_file();"
             "assert (r.files('hub') / 'web' / 'templates' / 'base.html').is_file();"
             # The page translations come compiled (setup.py): an installed point needs no build step.
             "assert (r.files('pointkit') / 'translations' / 'zh_Hans_CN' / 'LC_MESSAGES' / 'messages.mo').is_file();"
             "assert (r.files('hub') / 'web' / 'translations' / 'zh_Hans_CN' / 'LC_MESSAGES' / 'messages.mo').is_file()")
    subprocess.run([str(target / "bin" / "python"), "-c", probe], check=True)
    # The migration environments travel in the wheel: every hub and point revision runs from it.
    migrate = ("import sys\n"
               "from sync.kit.migrate import sqlite_migration_engine\n"
               "from hub.migrate import MIGRATIONS as hub\n"
               "from pointkit.migrate import MIGRATIONS as point\n"
               "for migrations, name in ((hub, 'hub.db'), (point, 'point.db')):\n"
               "    with sqlite_migration_engine(sys.argv[1] + name).begin() as connection:\n"
               "        migrations.build(connection)\n"
               "        assert migrations.differences(connection) == []\n")
    subprocess.run([str(target / "bin" / "python"), "-P", "-c", migrate, str(tmp_path) + "/"], check=True)
