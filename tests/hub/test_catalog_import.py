"""Catalog import, export and diff through the pointkit-hub command: CSV as Excel saves it, errors by file,
line and field with nothing applied, dry runs, round trips, versions and withdrawals.

Commands run in-process (click's runner) to keep the suite fast; the refused import runs as a real process."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from tests.hub.hubkit import SAMPLE_CATALOG

HUB_COMMAND = str(Path(sys.executable).parent / "pointkit-hub")
MEDICAL_INSURANCE = "451030-YB-001"
PLAQUE = "451030-TY-037"


def run(*args: str):
    """The command's result: ``exit_code``, ``stdout`` and ``stderr``."""
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def hub_data(tmp_path) -> str:
    """A hub data directory holding the sample catalog as version 1."""
    data = str(tmp_path / "hub")
    assert run("init", "--data", data, "--admin-password", "admin-pass").exit_code == 0
    imported = run("catalog", "import", str(SAMPLE_CATALOG), "--data", data)
    assert "new version 1: 14 departments, 45 items" in imported.stdout, imported.stderr
    return data


def read_table(folder: Path, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((folder / f"{name}.csv").read_text(encoding="utf-8-sig"), newline="")))


def write_table(folder: Path, name: str, rows: list[list[str]], *, bom: bool) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    (folder / f"{name}.csv").write_text(buffer.getvalue(), encoding="utf-8-sig" if bom else "utf-8")


def set_cell(rows: list[list[str]], code: str, column: str, value: str) -> int:
    """Set ``column`` of the row whose first cell is ``code``; return its line in the file."""
    index = next(i for i, row in enumerate(rows) if row[0] == code)
    rows[index][rows[0].index(column)] = value
    return index + 1


def test_csv_errors_name_file_line_and_field_and_nothing_is_applied(hub_data, tmp_path):
    folder = tmp_path / "edited"
    assert run("catalog", "export", "--format", "csv", "--data", hub_data, str(folder)).exit_code == 0
    items = read_table(folder, "items")
    negative = set_cell(items, MEDICAL_INSURANCE, "legal_days", "-5")
    unknown = set_cell(items, "451030-WJ-005", "departments", "WJ;QQ")
    promised = set_cell(items, "451030-RS-012", "promised_days", "30")
    level = set_cell(items, "451030-SJ-028", "levels", "county;town")
    items.append(list(items[promised - 1]))  # a duplicate of an existing code, at the end
    duplicate = len(items)
    items.append(["451030-XX-001", "缺列的行"] + [""] * len(items[0]))  # a row with too many cells
    too_long = len(items)
    write_table(folder, "items", items, bom=False)  # saved without a BOM, as some editors do

    refused = subprocess.run([HUB_COMMAND, "catalog", "import", str(folder), "--data", hub_data],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and refused.stdout == ""
    errors = refused.stderr
    for expected in (f"items.csv line {negative}, legal_days: must be 0 or more",
                     f"items.csv line {unknown}, departments (item 451030-WJ-005): unknown department 'QQ'",
                     f"items.csv line {promised}, promised_days (item 451030-RS-012): the promised limit (30) is "
                     "longer than the legal limit (5)",
                     f"items.csv line {level}, levels: 'town' is not allowed",
                     f"items.csv line {duplicate}, code: 451030-RS-012 is already on line {promised}",
                     f"items.csv line {too_long}: {len(items[0]) + 2} cells but {len(items[0])} columns"):
        assert expected in errors, errors
    assert "fix these and import again" in errors
    assert "unchanged, still version 1" in run("catalog", "import", str(SAMPLE_CATALOG), "--data", hub_data).stdout

    (folder / "materials.csv").write_bytes("item_code,code,name_zh\n451030-YB-001,照片,近期照片\n".encode("gbk"))
    not_utf8 = run("catalog", "import", str(folder), "--data", hub_data)
    assert "materials.csv line 2: not UTF-8 text" in not_utf8.stderr and "CSV UTF-8" in not_utf8.stderr


def test_round_trips_dry_run_new_version_withdrawal_and_diff(hub_data, tmp_path):
    folder, archive, as_json = tmp_path / "csv", tmp_path / "catalog.zip", tmp_path / "catalog.json"
    for fmt, target in (("csv", folder), ("csv", archive), ("json", as_json)):
        assert run("catalog", "export", "--format", fmt, "--data", hub_data, str(target)).exit_code == 0
        again = run("catalog", "import", str(target), "--data", hub_data)
        assert again.exit_code == 0 and "unchanged, still version 1" in again.stdout, again.stderr
    assert (folder / "items.csv").read_bytes().startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    assert json.loads(as_json.read_text(encoding="utf-8"))["items"][0]["code"] == "451030-CL-020"

    items = read_table(folder, "items")
    set_cell(items, MEDICAL_INSURANCE, "promised_days", "2")
    items = [row for row in items if row[0] != PLAQUE]
    items.append(["451030-TY-040", "退役军人创业贷款贴息申请", "Veteran start-up loan interest subsidy", "TY",
                  "single", "", "", "", "20", "15", "", "", "county;township", "no"])
    write_table(folder, "items", items, bom=True)
    materials = read_table(folder, "materials")
    write_table(folder, "materials", [row for row in materials if row[0] != PLAQUE], bom=True)
    fields = read_table(folder, "fields")
    write_table(folder, "fields", [row for row in fields if row[0] != PLAQUE], bom=True)

    dry = run("catalog", "import", str(folder), "--data", hub_data, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    expected = ["+ 451030-TY-040 退役军人创业贷款贴息申请", f"~ {MEDICAL_INSURANCE} 城乡居民基本医疗保险参保登记",
                "    promised_days: 1 → 2", f"- {PLAQUE} “光荣之家”光荣牌申领 (withdrawn)"]
    assert dry.stdout.splitlines()[:4] == expected
    assert "would make version 2" in dry.stdout and "(1 added, 1 changed, 1 withdrawn)" in dry.stdout
    assert "unchanged, still version 1" in run("catalog", "import", str(as_json), "--data", hub_data).stdout

    imported = run("catalog", "import", str(folder), "--data", hub_data)
    assert "new version 2: 14 departments, 45 items" in imported.stdout
    diff = run("catalog", "diff", "1", "2", "--data", hub_data)
    assert diff.stdout.splitlines() == [*expected, "Version 1 → 2: 1 added, 1 changed, 1 withdrawn"]
    assert "unchanged, still version 2" in run("catalog", "import", str(folder), "--data", hub_data).stdout
    missing = run("catalog", "diff", "1", "9", "--data", hub_data)
    assert missing.exit_code == 1 and "no catalog version 9" in missing.stderr
