"""Tables a township keeps while it relays for its villages (see pointkit/relay.py).

They hold sealed bytes and ids only: what a village sends is sealed to the
hub, what the hub sends a village is sealed to the village, so the township
holds nothing it can read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field

from .models import PointTable


# A village this township relays for, with every signing key the hub says it has held.
class RelayVillage(PointTable, table=True):
    point_id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=128)
    status: str = Field(max_length=16)
    sign_public_keys: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    # The hub's message number fetched so far for this village, and what the village confirmed it holds.
    hub_cursor: int = Field(default=0)
    delivered: int = Field(default=0)
    # Where the village's numbering stands at the hub (the hub's pull answers name it), passed on to the village.
    last_seq: int = Field(default=0)
    last_receipt: str = Field(default="", max_length=40)
    updated_at: datetime


# A village envelope held for the hub; ``hub_status`` is empty until the hub has answered for it.
class RelayEnvelope(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    envelope_id: str = Field(max_length=36, unique=True)
    village_id: str = Field(max_length=36, index=True)
    seq: int
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime
    forwarded_at: datetime | None = None
    hub_status: str = Field(default="", max_length=16, index=True)
    hub_reason: str = Field(default="", max_length=200)
    hub_message: str = Field(default="", max_length=500)


# A hub message held for a village until it pulls past it.
class RelayMessage(PointTable, table=True):
    __table_args__ = (UniqueConstraint("village_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    village_id: str = Field(max_length=36, index=True)
    seq: int
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime


# A signed-request nonce a village already used at this township (replays are refused).
class RelayNonce(PointTable, table=True):
    __table_args__ = (UniqueConstraint("village_id", "nonce"),)
    id: int | None = Field(default=None, primary_key=True)
    village_id: str = Field(max_length=36)
    nonce: str = Field(max_length=64)
    seen_at: datetime = Field(index=True)


# A village scan held for the hub: its sealed bytes under DATA/relay-scans/, the village's signed grant to carry it,
# and how far the hub has it (``hub_status`` "complete" once the hub holds it whole).
class RelayScan(PointTable, table=True):
    scan_id: str = Field(primary_key=True, max_length=36)
    village_id: str = Field(max_length=36, index=True)
    total: int
    received: int = Field(default=0)
    grant: str = Field(sa_column=Column(Text, nullable=False))
    sealed_sha256: str = Field(default="", max_length=64)
    hub_offset: int = Field(default=0)
    hub_status: str = Field(default="", max_length=16, index=True)
    received_at: datetime
    forwarded_at: datetime | None = None
