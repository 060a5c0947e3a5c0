"""The pointkit command: help everywhere, errors on stderr with exit code 1, init against a real hub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from pointkit import db
from pointkit.cli import main
from pointkit.models import Staff

COMMANDS = [[], ["init"], ["serve"], ["sync"], ["users"], ["users", "add"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_options_all_carry_help():
    for command in (main.commands["init"], main.commands["serve"], main.commands["sync"],
                    main.commands["users"].commands["add"]):
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{command.name} {param.name} has no help"


def test_console_script_runs():
    script = Path(sys.executable).parent / "pointkit"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "init" in done.stdout and "serve" in done.stdout


def test_sync_on_a_fresh_directory_fails_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["sync", "--data", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "pointkit init" in result.stderr


def test_sync_with_the_hub_down_exits_1(point):
    result = CliRunner().invoke(main, ["sync", "--data", str(point.data_dir)])
    assert result.exit_code == 1
    assert "county hub" in result.stderr and "stay queued" in result.stderr


def test_users_add(point):
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "li", "--password", "long-enough", "--role", "admin",
                                 "--name", "李秀兰", "--data", str(point.data_dir)])
    assert added.exit_code == 0 and "added admin li" in added.output
    with db.session_scope(point.data_dir) as session:
        assert session.exec(select(Staff.display_name).where(Staff.username == "li")).one() == "李秀兰"
    nameless = runner.invoke(main, ["users", "add", "wang", "--password", "long-enough", "--data", str(point.data_dir)])
    assert nameless.exit_code == 2 and "--name" in nameless.stderr, "receipts name the clerk: a name is required"
    again = runner.invoke(main, ["users", "add", "li", "--password", "long-enough", "--name", "李秀兰",
                                 "--data", str(point.data_dir)])
    assert again.exit_code == 1 and "already exists" in again.stderr
    short = runner.invoke(main, ["users", "add", "wu", "--password", "short", "--name", "吴", "--data",
                                 str(point.data_dir)])
    assert short.exit_code == 1 and "8 characters" in short.stderr


def test_init_refuses_an_initialized_dir_and_bad_tokens(point, tmp_path):
    runner = CliRunner()
    again = runner.invoke(main, ["init", "--data", str(point.data_dir), "--hub", "http://127.0.0.1:9",
                                 "--token", point.token])
    assert again.exit_code == 1 and "already holds an enrolled point" in again.stderr
    bad = runner.invoke(main, ["init", "--data", str(tmp_path / "new"), "--hub", "http://127.0.0.1:9",
                               "--token", "no-fingerprint"])
    assert bad.exit_code == 1 and "SECRET.FINGERPRINT" in bad.stderr
    down = runner.invoke(main, ["init", "--data", str(tmp_path / "new"), "--hub", "http://127.0.0.1:9",
                                "--token", "secret." + "a" * 16])
    assert down.exit_code == 1 and "cannot reach the hub" in down.stderr
    assert not (tmp_path / "new" / "point.db").exists()
