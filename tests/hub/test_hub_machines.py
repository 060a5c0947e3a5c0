"""A second hub machine: its own data directory, made from an export of the keys, on the same PostgreSQL.

``machine export`` writes the keys and the session secret (never the database URL) readable by its owner
only; ``machine join`` makes a data directory a page login and a point's envelopes both work on, and refuses
a database that holds no hub, another hub's, or keys rotated since the export; ``--refresh`` brings a machine
the generation a rotation elsewhere made.
"""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from sync.client import HubClient
from sync.envelope import Kind
from tests.hub.hubkit import Hub, make_hub
from tests.support import pgdb

from hub.cli import main
from hub.core.db import DATABASE_URL_ENV
from hub.instance import SECRET_KEY_FILE
from hub.machines import MACHINE_NAME_FILE
from hub.trust.keys import keys_dir, load_identity


def _cli(*args: str):
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


@pytest.mark.sqlite_only
def test_a_hub_on_sqlite_in_its_data_directory_cannot_be_exported_to_a_second_machine(hub, tmp_path):
    refused = _cli("machine", "export", "--data", hub.data_dir, tmp_path / "machine.json")
    assert refused.exit_code == 1 and "machines share one PostgreSQL database" in refused.output
    assert not (tmp_path / "machine.json").exists()


def test_a_joined_machine_holds_the_keys_and_secret_and_serves_the_same_hub(hub, tmp_path, hub_database,
                                                                             live_server, monkeypatch):
    if hub_database == "sqlite":
        pytest.skip("machines share a PostgreSQL database")
    export, second = tmp_path / "machine.json", tmp_path / "hub-b"
    exported = _cli("machine", "export", "--data", hub.data_dir, export)
    assert exported.exit_code == 0, exported.output
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert pgdb.database_name(hub_database) not in export.read_text(), "never the database's name or URL"
    assert _cli("machine", "export", "--data", hub.data_dir, export).exit_code == 1, "never overwrites a file"

    joined = _cli("machine", "join", "--data", second, "--from", export, "--machine", "hub-b")
    assert joined.exit_code == 0, joined.output
    assert "Machine hub-b joined the hub" in joined.output
    for name in [path.name for path in keys_dir(hub.data_dir).iterdir()]:
        assert (keys_dir(second) / name).read_bytes() == (keys_dir(hub.data_dir) / name).read_bytes()
        assert stat.S_IMODE((keys_dir(second) / name).stat().st_mode) == 0o600
    assert (second / SECRET_KEY_FILE).read_bytes() == (hub.data_dir / SECRET_KEY_FILE).read_bytes()
    assert (second / MACHINE_NAME_FILE).read_text().strip() == "hub-b"
    again = _cli("machine", "join", "--data", second, "--from", export)
    assert again.exit_code == 1 and "is not empty" in again.output

    # A staff login made on the first machine holds on the second, and a point enrolled on the first pushes there.
    machine_b = Hub(second).serve(live_server)
    try:
        browser = hub.browser("yb-li")
        browser.base_url = machine_b.url
        page = browser.get("/queue")
        assert page.status_code == 200 and "/login" not in str(page.url), "the session secret is the same"
        point = hub.enroll_point()
        with HubClient(machine_b.url, point_id=point.point_id, identity=point.identity, attempts=1) as client:
            [pushed] = client.push([point.seal(Kind.SUBMIT, point.submit())])
        assert pushed.status == "accepted", "machine B opens what is sealed to the hub's key"
    finally:
        machine_b.close()

    with pgdb.scratch_database() as empty:
        monkeypatch.setenv(DATABASE_URL_ENV, empty)
        refused = _cli("machine", "join", "--data", tmp_path / "hub-c", "--from", export)
        assert refused.exit_code == 1 and "holds no hub" in refused.output
        make_hub(tmp_path / "other-hub").close()
        refused = _cli("machine", "join", "--data", tmp_path / "hub-c", "--from", export)
        assert refused.exit_code == 1 and "holds another hub's keys" in refused.output
        assert not (tmp_path / "hub-c").exists()

    monkeypatch.setenv(DATABASE_URL_ENV, hub_database)
    assert _cli("keys", "rotate", "--data", hub.data_dir).exit_code == 0
    stale = _cli("machine", "join", "--data", tmp_path / "hub-d", "--from", export)
    assert stale.exit_code == 1 and "machine export' again" in stale.output
    assert load_identity(second).fingerprint != load_identity(hub.data_dir).fingerprint
    fresh = tmp_path / "machine-2.json"
    assert _cli("machine", "export", "--data", hub.data_dir, fresh).exit_code == 0
    refreshed = _cli("machine", "join", "--refresh", "--data", second, "--from", fresh)
    assert refreshed.exit_code == 0 and "holds key generation(s) 1, 2" in refreshed.output, refreshed.output
    assert load_identity(second).fingerprint == load_identity(hub.data_dir).fingerprint, "the new key is current"
