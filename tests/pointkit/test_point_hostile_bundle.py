"""A USB bundle never makes ``pointkit import-bundle`` print a traceback: a damaged one is refused whole with
a message, and what a (signed) bundle says beyond every bound is left unused while the rest applies."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from click.testing import CliRunner
from tests.pointkit.hubside import FakeHubSide

from pointkit import db
from pointkit.cli import main as point_cli
from pointkit.state import get_state
from sync.canonical import canonical_json
from sync.framing import encode_frames
from sync.signing import sign_document
from sync.bundle import BUNDLE_MAGIC, BUNDLE_TYPE
from sync.clock import utcnow
from sync.envelope import HUB_SENDER_ID


def bundle_file(path: Path, manifest: bytes, items: bytes = encode_frames([])) -> Path:
    """A bundle file written byte by byte (docs/architecture.md, "USB bundles"), whatever its manifest says."""
    path.write_bytes(BUNDLE_MAGIC + struct.pack(">I", len(manifest)) + manifest + items)
    return path


def import_bundle(data_dir: Path, path: Path):
    return CliRunner().invoke(point_cli, ["import-bundle", "--data", str(data_dir), str(path)])


def test_a_hostile_hub_bundle_prints_no_traceback(point: FakeHubSide, tmp_path):
    deep = bundle_file(tmp_path / "deep.pkb", b'{"document": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    refused = import_bundle(point.data_dir, deep)
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    assert "damaged or was altered; nothing was applied" in refused.output

    # Signed by the hub, but with numbers past every column and lists that are not lists.
    items = encode_frames([])
    manifest = {"type": BUNDLE_TYPE, "sender_id": str(HUB_SENDER_ID), "recipient": point.point_id(),
                "created_at": utcnow().isoformat(), "items": [], "items_sha256": hashlib.sha256(items).hexdigest(),
                "acks": 7, "scan_acks": {"scan_id": "x", "offset": 2**70}, "cursor": 2**70,
                "numbers": {"last_seq": 2**70, "last_receipt": "20261130-C5DEE5-0009"}}
    signed = canonical_json(sign_document(manifest, point.hub.sign_key))
    done = import_bundle(point.data_dir, bundle_file(tmp_path / "numbers.pkb", signed, items))
    assert done.exit_code == 0 and done.exception is None, done.output
    with db.session_scope(point.data_dir) as session:
        state = get_state(session)
        assert (state.next_seq, state.pull_cursor) == (1, 0), "numbers no column holds are not taken"
        assert state.receipt_floor == "20261130-C5DEE5-0009", "what is within bounds still applies"
