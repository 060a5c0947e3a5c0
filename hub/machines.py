"""Hub machines: several servers, each with its own data directory, on one PostgreSQL database.

A region runs the hub on more than one machine behind one address. What the database does not hold, each
machine needs a copy of: the hub's keys (DATA/keys, every generation still held: envelopes are sealed to
them) and the session secret (DATA/secret_key: a login made on one machine must hold on the next). Nothing
else is shared: each machine keeps its own log and anchored heads, and names itself (DATA/machine-name) so
logs and the timers' leases (hub/core/leases.py) say which machine did what.

``export_machine`` writes those secrets to one file, readable only by its owner, and never the database's
URL or password. ``join_machine`` makes a new data directory from it, after checking that the database
holds this very hub: every key generation it lists must be in the file, with the same fingerprint.
``refresh_machine`` adds to a machine the generations a key rotation on another machine made.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, make_url
from sqlmodel import Session, select

from hub.core.db import DATABASE_MARKER, database_kind, is_sqlite, make_engine
from hub.core.models import HubKey
from hub.instance import SECRET_KEY_FILE, is_initialized
from hub.trust.keys import KEY_PREFIX, has_identity, keys_dir, load_keyring

MACHINE_NAME_FILE = "machine-name"
EXPORT_FORMAT = "pointkit-hub-machine/1"
MAX_NAME_LENGTH = 64


class MachineError(RuntimeError):
    """A machine export or join that cannot be done as asked; the message says what to do."""


@dataclass(frozen=True)
class Joined:
    data_dir: Path
    machine: str
    generations: list[int]


def machine_name(data_dir: Path) -> str:
    """This machine's name: DATA/machine-name, else the host's name."""
    path = Path(data_dir) / MACHINE_NAME_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip() or socket.gethostname()
    return socket.gethostname()


def process_holder(machine: str) -> str:
    """How a lease and the log name this process: its machine and its process id."""
    return f"{machine} (pid {os.getpid()})"


def check_machine_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise MachineError(f"a machine name is 1 to {MAX_NAME_LENGTH} printable characters, e.g. hub-b")
    return name


def export_machine(session: Session, data_dir: Path, out: Path) -> list[int]:
    """Write the keys of every held generation and the session secret to ``out`` (0600); the generations."""
    kind = database_kind(data_dir)
    if kind is None:
        raise MachineError(f"this hub keeps its database in {data_dir} (SQLite): machines share one PostgreSQL "
                           "database, so move the hub to PostgreSQL first (docs/deploy.md)")
    keyring = load_keyring(session, data_dir)
    files = {path.name: _b64(path.read_bytes()) for path in sorted(keys_dir(data_dir).iterdir())
             if path.is_file() and path.name.startswith(KEY_PREFIX + "-")}
    document = {"format": EXPORT_FORMAT, "database_kind": kind,
                "fingerprints": {str(generation): identity.fingerprint
                                 for generation, identity in keyring.held.items()},
                "keys": files, "secret_key": _b64((Path(data_dir) / SECRET_KEY_FILE).read_bytes())}
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MachineError(f"{out} already exists; give a new file name") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    return sorted(keyring.held)


def join_machine(data_dir: Path, export: Path, url: str, *, machine: str) -> Joined:
    """Make ``data_dir`` a new machine of the hub whose database is at ``url``, from ``export``'s secrets."""
    data_dir, machine = Path(data_dir), check_machine_name(machine)
    if is_initialized(data_dir) or (data_dir.exists() and any(data_dir.iterdir())):
        raise MachineError(f"{data_dir} is not empty; give a new directory for the machine")
    document = _read_export(export)
    if is_sqlite(url):
        raise MachineError("give the hub's PostgreSQL database with --database-url (or POINTKIT_HUB_DATABASE_URL); "
                           "machines cannot share an SQLite file")
    backend = make_url(url).get_backend_name()
    if backend != document["database_kind"]:
        raise MachineError(f"{export} is from a hub on {document['database_kind']}, not {backend}")
    engine = make_engine(url)
    try:
        generations = _check_same_hub(engine, document, url)
        try:
            _write_machine(data_dir, document, machine, backend)
            _check_key_files(engine, data_dir, document, generations)
        except Exception:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
    finally:
        engine.dispose()
    return Joined(data_dir, machine, generations)


def refresh_machine(data_dir: Path, export: Path, url: str) -> list[int]:
    """Add to a machine of the hub the key generations made since it joined (``keys rotate`` ran on another
    machine), from a new export; the generations it holds now. A serving machine takes them up at its next
    request, as after a rotation of its own."""
    data_dir = Path(data_dir)
    if not has_identity(data_dir) or database_kind(data_dir) is None:
        raise MachineError(f"{data_dir} is not a machine of a hub on PostgreSQL; make one with 'machine join'")
    document = _read_export(export)
    engine = make_engine(url)
    try:
        generations = _check_same_hub(engine, document, url)
        for name, value in _key_files(document):
            if not (keys_dir(data_dir) / name).exists():
                _write_private(keys_dir(data_dir) / name, value)
        _check_key_files(engine, data_dir, document, generations)
    finally:
        engine.dispose()
    return generations


def _check_key_files(engine: Engine, data_dir: Path, document: dict, generations: list[int]) -> None:
    with Session(engine) as session:
        held = load_keyring(session, data_dir).held
    if any(generation not in held or held[generation].fingerprint != document["fingerprints"][str(generation)]
           for generation in generations):
        raise MachineError("the key files in the export do not match their fingerprints; export again")


def _read_export(export: Path) -> dict:
    try:
        document = json.loads(Path(export).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MachineError(f"cannot read {export} ({exc}); make it with 'pointkit-hub machine export'") from None
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise MachineError(f"{export} is not a hub machine export; make it with 'pointkit-hub machine export'")
    return document


def _check_same_hub(engine: Engine, document: dict, url: str) -> list[int]:
    """The held generations, once the database's key table names exactly the export's fingerprints."""
    where = make_url(url).render_as_string(hide_password=True)
    with engine.connect() as connection:
        if not inspect(connection).has_table(HubKey.__tablename__):
            raise MachineError(f"the database at {where} holds no hub; give the database the first machine uses")
        rows = connection.execute(select(HubKey.generation, HubKey.fingerprint, HubKey.purged_at)).all()
    if not rows:
        raise MachineError(f"the database at {where} holds no hub; give the database the first machine uses")
    exported = document["fingerprints"]
    held = sorted(generation for generation, _, purged in rows if purged is None)
    for generation, fingerprint, purged in rows:
        theirs = exported.get(str(generation))
        if theirs is not None and theirs != fingerprint:
            raise MachineError(f"the database at {where} holds another hub's keys (generation {generation} is "
                               f"{fingerprint}, the export's {theirs}); refusing to join it")
        if theirs is None and purged is None:
            raise MachineError(f"the hub's key generation {generation} is not in the export (keys rotated since?): "
                               "run 'pointkit-hub machine export' again on a machine of the hub")
    return held


def _write_machine(data_dir: Path, document: dict, machine: str, backend: str) -> None:
    """The new data directory: keys, session secret, database kind and name, all readable by the owner only."""
    directory = keys_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, value in _key_files(document):
        _write_private(directory / name, value)
    _write_private(data_dir / SECRET_KEY_FILE, base64.b64decode(document["secret_key"]))
    _write_private(data_dir / DATABASE_MARKER, (backend + "\n").encode("utf-8"))
    _write_private(data_dir / MACHINE_NAME_FILE, (machine + "\n").encode("utf-8"))


def _key_files(document: dict) -> list[tuple[str, bytes]]:
    """The export's key files by name; a name that is not a hub key file's refuses the whole export."""
    files = []
    for name, value in document["keys"].items():
        if Path(name).name != name or not name.startswith(KEY_PREFIX + "-"):
            raise MachineError(f"the export names a key file {name!r}; make a new export")
        files.append((name, base64.b64decode(value)))
    return files


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")
