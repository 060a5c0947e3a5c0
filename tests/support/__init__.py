"""What the tests stand on: real hub and point processes (cluster), a village link (linksim), scratch PostgreSQL
databases (pgdb) and the previous release's own code (previous_release). The benchmark scripts use them too."""
