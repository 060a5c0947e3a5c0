"""Write the next schema revision for the hub or the point from the difference between the models and the revisions.

    scripts/new_migration hub "case: add priority"     writes hub/migrations/versions/000N_case_add_priority.py
    scripts/new_migration point "..."                  the same for pointkit/migrations/versions/
    scripts/new_migration --check hub                  prints the difference only (exit 1 if there is one)

It runs every revision on an empty SQLite file, then lets Alembic's autogenerate compare that with the
models. Read the script it writes before committing (docs/migrations.md says what to look for).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from sync.kit.migrate import Migrations, sqlite_migration_engine


def side_migrations(side: str) -> Migrations:
    if side == "hub":
        from hub.migrate import MIGRATIONS
    else:
        from pointkit.migrate import MIGRATIONS
    return MIGRATIONS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("side", choices=("hub", "point"), help="Whose schema: the hub's or the point's.")
    parser.add_argument("message", nargs="?", help="What the revision changes (becomes its file name).")
    parser.add_argument("--check", action="store_true", help="Print the difference and write nothing.")
    args = parser.parse_args()
    if not args.check and not args.message:
        parser.error("give a MESSAGE for the new revision (or --check)")
    migrations = side_migrations(args.side)
    with tempfile.TemporaryDirectory() as work:
        engine = sqlite_migration_engine(Path(work) / "schema.db")
        try:
            with engine.begin() as connection:
                migrations.build(connection)
                differences = migrations.differences(connection)
                if args.check:
                    for difference in differences:
                        print(difference)
                    print(f"{len(differences)} difference(s) between the {args.side} models and revision "
                          f"{migrations.head()}")
                    return 1 if differences else 0
                if not differences:
                    print(f"the {args.side} models match revision {migrations.head()}; nothing to write")
                    return 0
                script = command.revision(migrations.config(connection), message=args.message, autogenerate=True,
                                          rev_id=f"{int(migrations.head()) + 1:04d}")
        finally:
            engine.dispose()
    print(f"wrote {script.path}: read it, give new NOT NULL columns a server_default for existing rows, "
          "and add any data backfill (docs/migrations.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
