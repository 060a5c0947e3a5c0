"""The hub client's TLS settings are built once per process, not for every client (a point makes one each round)."""

from __future__ import annotations

from sync.client import HubClient


def _ssl_context(client: HubClient):
    # httpx's default transport keeps the context it verifies with in its connection pool.
    return client._http._transport._pool._ssl_context


def test_hub_clients_share_one_tls_context_that_verifies_certificates():
    first, second = HubClient("https://hub.example:8700"), HubClient("http://127.0.0.1:8700")
    try:
        assert _ssl_context(first) is _ssl_context(second), "each client loaded the CA file again"
        context = _ssl_context(first)
        assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    finally:
        first.close()
        second.close()
