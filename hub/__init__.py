"""hub: the county hub of pointkit.

It enrolls points, ingests their sealed envelopes, routes cases to the departments that decide them, signs
results and sends them back, and serves the operator and reviewer pages and the staff JSON API.

Its rooms, from the ground up (docs/architecture.md has the map):

- ``core``: what everything uses: time, the database, the tables, the audit chain, a case's timeline,
  the queue of messages to points;
- ``catalog``: the service catalog (事项目录) and the holiday calendar, versioned and signed;
- ``trust``: the hub's keys, enrolled points, staff accounts, the audit chain's signed heads;
- ``approval``: the approval loop: time limits, routing, decisions, supervision, a case's materials;
- ``reconcile``: what points did apart from each other, and the conflict desk's decisions on it;
- ``intake``: what points send: ingest, each intent's effect, sealing what goes back, USB bundles;
- ``web``: the Flask app, its pages, the staff API and the sync endpoints (``hub.web.create_app``);
- ``migrate``, ``instance``, ``cli``: the schema's upgrades, a data directory, the ``pointkit-hub`` command.
"""
