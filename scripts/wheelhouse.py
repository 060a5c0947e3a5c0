"""Build the offline install folder county IT carries on a USB stick.

One folder holds pointkit's own wheel and every dependency as a binary
wheel for each target (Windows and Linux on x86-64, CPython 3.11 and 3.12),
plus install scripts that use nothing but that folder (``pip --no-index``).
pip resolves environment markers against the machine it runs on, not the
target, so Windows-only dependencies are named here explicitly.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "linux-cp311": ("3.11", ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64",
                             "linux_x86_64"]),
    "linux-cp312": ("3.12", ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64",
                             "linux_x86_64"]),
    "win-cp311": ("3.11", ["win_amd64"]),
    "win-cp312": ("3.12", ["win_amd64"]),
}
# Dependencies that only Windows pulls in through markers (click's colours).
WINDOWS_EXTRAS = ["colorama"]

INSTALL_SH = """#!/bin/sh
# Install or upgrade pointkit from this folder, with no network: sh install.sh [VENV_DIR]
# PYTHON=python3.12 sh install.sh picks the Python (3.11 or 3.12; default python3).
set -e
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$HOME/pointkit-env}"
"${PYTHON:-python3}" -m venv "$venv"
# Dependencies as this release needs them, then this folder's pointkit over whatever was there: the same
# version number rebuilt must still replace the code (an upgrade that kept the old code would go unnoticed).
"$venv/bin/pip" install --no-index --find-links "$here/wheels" --upgrade "$here/wheels/%(wheel)s%(extras)s"
"$venv/bin/pip" install --no-index --find-links "$here/wheels" --force-reinstall --no-deps "$here/wheels/%(wheel)s"
echo "installed: $("$venv/bin/pointkit" --version) in $venv ($venv/bin/pointkit, $venv/bin/pointkit-hub)"
"""
INSTALL_BAT = """@echo off
rem Install or upgrade pointkit from this folder, with no network: install.bat [VENV_DIR]
rem set PYTHON=py -3.12 first to pick the Python (3.11 or 3.12; default py, else python).
set HERE=%%~dp0
set VENV=%%1
if "%%VENV%%"=="" set VENV=%%USERPROFILE%%\\pointkit-env
if "%%PYTHON%%"=="" (py -m venv "%%VENV%%" || python -m venv "%%VENV%%") else (%%PYTHON%% -m venv "%%VENV%%")
if errorlevel 1 exit /b 1
"%%VENV%%\\Scripts\\pip.exe" install --no-index --find-links "%%HERE%%wheels" --upgrade "%%HERE%%wheels\\%(wheel)s%(extras)s" || exit /b 1
"%%VENV%%\\Scripts\\pip.exe" install --no-index --find-links "%%HERE%%wheels" --force-reinstall --no-deps "%%HERE%%wheels\\%(wheel)s" || exit /b 1
"%%VENV%%\\Scripts\\pointkit.exe" --version
echo installed in %%VENV%% (%%VENV%%\\Scripts\\pointkit.exe, %%VENV%%\\Scripts\\pointkit-hub.exe)
"""
README = """pointkit offline install folder (version %(version)s)

Targets: %(targets)s. Python 3.11 or 3.12 must be installed on the laptop.

Linux:    sh install.sh [DIR]      (installs into DIR, default ~/pointkit-env; a hub: /opt/pointkit-env)
Windows:  install.bat [DIR]        (installs into DIR, default %%USERPROFILE%%\\pointkit-env)

Run the same script from a newer folder to upgrade: it replaces the code
in place and prints the version installed. Then run 'pointkit upgrade' or
'pointkit-hub upgrade' as the release notes say (docs/deploy.md, Upgrading).
Another Python: PYTHON=python3.12 sh install.sh, or 'set PYTHON=py -3.12'.

Then: pointkit init --help (a point) or pointkit-hub init --help (a hub).
Nothing is downloaded: pip reads only the wheels/ folder next to this file.
"""


def run(command: list[str]) -> None:
    """Run pip, dropping its warnings about this build machine's own index settings."""
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    for line in done.stderr.splitlines():
        if "is ignored: it is neither a file nor a directory" not in line:
            print(line, file=sys.stderr)
    if done.returncode:
        raise SystemExit(f"wheelhouse: {' '.join(command[2:4])} failed (exit {done.returncode})")


def project_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def build(out: Path, targets: list[str], extras: str) -> None:
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        # setuptools builds in the checkout's build/ and keeps what an older layout left in build/lib: a module
        # moved since would ship twice. Start from no build/, and leave none behind.
        shutil.rmtree(ROOT / "build", ignore_errors=True)
        try:
            run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                 "-w", scratch, str(ROOT)])
        finally:
            shutil.rmtree(ROOT / "build", ignore_errors=True)
        (own,) = Path(scratch).glob("pointkit-*.whl")
        shutil.copy2(own, wheels / own.name)
    requirement = f"{wheels / own.name}[{extras}]" if extras else str(wheels / own.name)
    for name in targets:
        python_version, platforms = TARGETS[name]
        print(f"==> {name}", flush=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                   "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
                   "-d", str(wheels)]
        for platform in platforms:
            command += ["--platform", platform]
        command.append(requirement)
        if name.startswith("win"):
            command += WINDOWS_EXTRAS
        run(command)
    values = {"wheel": own.name, "extras": f"[{extras}]" if extras else "", "version": project_version(),
              "targets": ", ".join(targets)}
    (out / "install.sh").write_text(INSTALL_SH % values, encoding="utf-8")
    (out / "install.sh").chmod(0o755)
    (out / "install.bat").write_text((INSTALL_BAT % values).replace("\n", "\r\n"), encoding="utf-8")
    (out / "README.txt").write_text(README % values, encoding="utf-8")
    count = len(list(wheels.glob("*.whl")))
    size = sum(path.stat().st_size for path in wheels.glob("*.whl"))
    print(f"wrote {out}: {count} wheels, {size / 1e6:.1f} MB, targets {', '.join(targets)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse",
                        help="folder to write (default: ./wheelhouse)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="build only these targets (repeatable; default: all four)")
    parser.add_argument("--extras", default="",
                        help="extras to include, e.g. 'pg' for a hub on PostgreSQL (default: none)")
    args = parser.parse_args()
    build(args.out, args.target or list(TARGETS), args.extras)


if __name__ == "__main__":
    main()
