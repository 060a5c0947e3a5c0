"""The shared kit: what both apps use that is not the sync protocol.

Working days and the holiday calendar (``workdays``, the shipped years in ``holidays/``), resident ID numbers,
password hashing, backups, QR codes, result codes, schema migrations, and the Flask helpers both servers
share (language, CSRF, JSON errors, same-origin paths, serving).
"""
