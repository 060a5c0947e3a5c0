"""The commands in this folder, as modules: each shell wrapper runs ``python -m scripts.<name>`` from the
repository root, so a script imports tests.support (cluster, linksim, pgdb) and the tests import a script."""
