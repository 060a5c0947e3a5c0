"""The pointkit-hub command, run as a real subprocess the way a county admin runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import select

import click
from click.testing import CliRunner

from hub.cli import main
from hub.core.db import DATABASE_URL_ENV, database_url, make_engine, session_scope
from hub.core.models import EnrollmentToken, Staff
from tests.hub.hubkit import SAMPLE_CATALOG
from sync.kit.passwords import hash_secret

HUB_COMMAND = str(Path(sys.executable).parent / "pointkit-hub")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HUB_COMMAND, *args], capture_output=True, text=True, timeout=60)


def test_init_import_points_and_users(tmp_path):
    data = str(tmp_path / "hub")
    init = run("init", "--data", data)
    assert init.returncode == 0, init.stderr
    assert "fingerprint" in init.stdout and "Admin password" in init.stdout, "a generated password is printed"
    again = run("init", "--data", data, "--admin-password", "whatever-pass")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr

    imported = run("catalog", "import", str(SAMPLE_CATALOG), "--data", data)
    assert imported.returncode == 0 and "version 1: 14 departments, 45 items" in imported.stdout
    unchanged = run("catalog", "import", str(SAMPLE_CATALOG), "--data", data)
    assert "unchanged, still version 1" in unchanged.stdout

    added = run("points", "add", "八达镇周邦村便民服务站", "--level", "village", "--data", data)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert "." in token and " " not in token
    listed = run("points", "list", "--data", data)
    assert "八达镇周邦村便民服务站\tvillage\tpending" in listed.stdout

    reviewer = run("users", "add", "yb-li", "--role", "reviewer", "--department", "YB", "--password",
                   "reviewer-pass", "--data", data)
    assert reviewer.returncode == 0 and "department YB" in reviewer.stdout
    no_department = run("users", "add", "x", "--role", "reviewer", "--password", "reviewer-pass", "--data", data)
    assert no_department.returncode == 1 and "--department" in no_department.stderr
    unknown = run("users", "add", "x", "--role", "reviewer", "--department", "QQ", "--password", "reviewer-pass",
                  "--data", data)
    assert unknown.returncode == 1 and "no department 'QQ'" in unknown.stderr

    engine = make_engine(database_url(Path(data)))
    with session_scope(engine) as session:
        assert sorted(s.username for s in session.exec(select(Staff)).all()) == ["admin", "yb-li"]
        assert session.exec(select(EnrollmentToken)).one().token_hash == hash_secret(token)
    engine.dispose()


def test_errors_go_to_stderr_with_exit_1(tmp_path):
    missing = run("points", "list", "--data", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "pointkit-hub init" in missing.stderr and missing.stdout == ""
    data = str(tmp_path / "hub")
    assert run("init", "--data", data, "--admin-password", "admin-pass").returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"departments": [], "items": [{"code": ""}]}', encoding="utf-8")
    refused = run("catalog", "import", str(bad), "--data", data)
    assert refused.returncode == 1 and "items.0.code" in refused.stderr
    short = run("users", "add", "op", "--role", "operator", "--password", "short", "--data", data)
    assert short.returncode == 1 and "at least 8" in short.stderr


def test_every_command_and_option_has_help():
    # In-process (click's runner) to keep the suite fast; the commands above run as real processes.
    runner = CliRunner()
    for command in (["--help"], ["init", "--help"], ["serve", "--help"], ["points", "add", "--help"],
                    ["points", "list", "--help"], ["catalog", "import", "--help"],
                    ["catalog", "export", "--help"], ["catalog", "diff", "--help"], ["users", "add", "--help"],
                    ["points", "revoke", "--help"], ["keys", "--help"], ["keys", "list", "--help"],
                    ["keys", "rotate", "--help"], ["keys", "purge", "--help"], ["audit", "verify", "--help"]):
        shown = runner.invoke(main, command)
        assert shown.exit_code == 0 and "--help" in shown.output, command
        new_options = {"init": "--pq / --no-pq", "points add": "--expires-hours", "keys rotate": "--pq / --no-pq"}
        if " ".join(command[:-1]) in new_options:
            assert new_options[" ".join(command[:-1])] in shown.output, command
        if "--data" in shown.output:
            assert "data directory" in shown.output
    pending = [main]
    while pending:
        command = pending.pop()
        assert command.help, command.name
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{command.name} {param.name}"
        if isinstance(command, click.Group):
            pending.extend(command.commands.values())


def test_database_url_puts_the_tables_there_and_a_second_hub_cannot_take_them(tmp_path, hub_database, monkeypatch):
    """--database-url alone (no environment variable): the tables go where it says, every command finds
    them there, and init for another data directory refuses a database that already holds a hub."""
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}" if hub_database == "sqlite" else hub_database
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    data = tmp_path / "hub"
    made = run("init", "--data", str(data), "--database-url", url, "--admin-password", "admin-pass-1")
    assert made.returncode == 0, made.stderr
    assert not (data / "hub.db").exists() and (data / "keys").is_dir(), "tables elsewhere, keys in the data dir"
    added = run("users", "add", "op-chen", "--role", "operator", "--password", "operator-pass",
                "--data", str(data), "--database-url", url)
    assert added.returncode == 0, added.stderr
    engine = make_engine(url)
    with session_scope(engine) as session:
        assert sorted(session.exec(select(Staff.username)).all()) == ["admin", "op-chen"]
    engine.dispose()

    second = run("init", "--data", str(tmp_path / "other"), "--database-url", url)
    assert second.returncode == 1 and "already holds a hub" in second.stderr, second.stderr
    # Without the URL the data directory refuses rather than start an empty SQLite hub beside the real one.
    for args in (("audit", "verify"), ("users", "list")):
        forgot = run(*args, "--data", str(data))
        assert forgot.returncode == 1 and "--database-url" in forgot.stderr, forgot.stderr
        assert not (data / "hub.db").exists()
    assert run("audit", "verify", "--data", str(data), "--database-url", url).returncode == 0
