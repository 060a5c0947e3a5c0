"""Files an administrator hands the hub that would unpack into gigabytes (issue 27, case 3), and the catalog's
CSV export that Excel must never run as formulas (case 7).

The bombs are real zips built here, bounded: a 200 MiB member of zeros compresses to about 200 KB. The refused
import runs as the real ``pointkit-hub`` process, measured by a parent that only waits for it, so its peak memory
is the command's own."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.catalog.files import CatalogError, read_catalog
from hub.cli import main
from tests.hub.hubkit import SAMPLE_CATALOG

HUB_COMMAND = str(Path(sys.executable).parent / "pointkit-hub")
MIB = 1024 * 1024
# Runs a command and prints its peak resident memory in KiB (Linux counts ru_maxrss in KiB) on the last line.
PEAK_MEMORY = ("import resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
               "sys.stdout.write(done.stderr)\n"
               "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
# What Python and the hub's imports take before the file is opened, plus room: far below the 200 MiB inside.
MEMORY_CEILING_KIB = 300 * 1024
FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "\t=1"]


def zip_of(path: Path, members: dict[str, tuple[bytes, int]]) -> Path:
    """A zip holding each member as ``piece`` repeated ``count`` times, written a piece at a time."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (piece, count) in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for _ in range(count):
                    member.write(piece)
    return path


@pytest.mark.sqlite_only
def test_a_zip_bomb_is_refused_by_catalog_import_at_once_and_in_bounded_memory(tmp_path):
    bomb = zip_of(tmp_path / "catalog.zip", {"departments.csv": (b"0" * MIB, 200)})
    assert bomb.stat().st_size < 1 * MIB
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK_MEMORY, HUB_COMMAND, "catalog", "import", str(bomb),
                           "--data", str(tmp_path / "hub")], capture_output=True, text=True, timeout=180)
    elapsed = time.monotonic() - started
    *stderr, last = done.stdout.splitlines()
    returncode, peak_kib = map(int, last.split())
    assert returncode == 1 and "departments.csv in catalog.zip is larger than 64 MiB once unzipped, the limit for " \
        "one file in a zip" in "\n".join(stderr), stderr
    assert peak_kib < MEMORY_CEILING_KIB, f"the refused import peaked at {peak_kib // 1024} MiB"
    assert elapsed < 30


@pytest.mark.sqlite_only
def test_a_member_that_inflates_too_densely_is_refused_while_it_inflates(tmp_path):
    """8 MiB of zeros declares its size honestly, under the member limit: the ratio stops it after 1 MiB."""
    dense = zip_of(tmp_path / "dense.zip", {"departments.csv": (b"code,name_zh,name_en\r\n" + b"0" * MIB, 8)})
    with pytest.raises(CatalogError) as refused:
        read_catalog(dense)
    assert "departments.csv in dense.zip inflates more than 100 times its compressed size" in str(refused.value)
    assert "past the limit of 100:1" in str(refused.value)


@pytest.mark.sqlite_only
def test_a_zip_of_too_many_files_is_refused_from_its_directory(tmp_path):
    crowded = zip_of(tmp_path / "crowded.zip", {f"notes/{index}.txt": (b"", 0) for index in range(1001)})
    with pytest.raises(CatalogError) as refused:
        read_catalog(crowded)
    assert "crowded.zip holds 1001 files, more than the 1000 a zip may hold here" in str(refused.value)


@pytest.mark.sqlite_only
def test_a_catalog_file_over_the_size_limit_is_refused_unread(tmp_path):
    big = tmp_path / "catalog.json"
    with open(big, "wb") as handle:
        handle.truncate(64 * MIB + 1)  # sparse: no disk, no memory
    with pytest.raises(CatalogError) as refused:
        read_catalog(big)
    assert "catalog.json is larger than 64 MiB, the limit for a catalog file" in str(refused.value)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("kind", ["encrypted", "unknown compression"])
def test_a_zip_that_cannot_be_opened_here_is_refused_with_what_to_do(tmp_path, kind):
    """A zip with a password, or packed with a method Python does not read: a sentence, not a traceback."""
    path = zip_of(tmp_path / "locked.zip", {"departments.csv": (b"code,name_zh,name_en\r\n", 1)})
    data = bytearray(path.read_bytes())
    for signature, flags, method in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.index(signature)
        if kind == "encrypted":
            data[at + flags] |= 0x01  # the "encrypted" bit of the general purpose flags
        else:
            data[at + method:at + method + 2] = (99).to_bytes(2, "little")  # AES (WinZip): not read by zipfile
    path.write_bytes(bytes(data))
    with pytest.raises(CatalogError) as refused:
        read_catalog(path)
    assert "locked.zip" in str(refused.value) and "unzip it" in str(refused.value), str(refused.value)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.sqlite_only
def test_catalog_csv_export_neutralises_formulas_and_imports_back_unchanged(tmp_path):
    """Department and item names that Excel would run come out of the CSV export quoted, in a folder and in a
    zip, and the same files import as no change at all."""
    document = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    for department, name in zip(document["departments"], FORMULAS):
        department["name_zh"] = name
    document["items"][0]["name_zh"] = FORMULAS[0]
    source = tmp_path / "catalog.json"
    source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    data = str(tmp_path / "hub")
    assert run("init", "--data", data, "--admin-password", "admin-pass").exit_code == 0
    assert "new version 1" in run("catalog", "import", str(source), "--data", data).stdout

    folder, archive = tmp_path / "csv", tmp_path / "catalog.zip"
    for target in (folder, archive):
        exported = run("catalog", "export", "--format", "csv", "--data", data, str(target))
        assert exported.exit_code == 0, exported.stderr
    with zipfile.ZipFile(archive) as opened:
        zipped = opened.read("departments.csv").decode("utf-8-sig")
    for text in ((folder / "departments.csv").read_text(encoding="utf-8-sig"), zipped):
        names = {row[1] for row in csv.reader(io.StringIO(text, newline=""))}
        assert names >= {"'" + name for name in FORMULAS} and not names & set(FORMULAS)
    items = list(csv.reader(io.StringIO((folder / "items.csv").read_text(encoding="utf-8-sig"), newline="")))
    header, first = items[0], next(row for row in items if row[0] == document["items"][0]["code"])
    assert first[header.index("name_zh")] == "'" + FORMULAS[0]
    assert first[header.index("legal_days")] == str(document["items"][0]["legal_days"]), "numbers stay numbers"
    for target in (folder, archive):
        again = run("catalog", "import", str(target), "--data", data)
        assert again.exit_code == 0 and "unchanged, still version 1" in again.stdout, again.stdout + again.stderr
