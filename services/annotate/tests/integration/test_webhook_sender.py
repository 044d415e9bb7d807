"""The webhook sender's own connection: the address it connects to is checked when it resolves the name."""

from __future__ import annotations

import asyncio

from claystream_annotate.adapters.http_webhooks import HttpWebhookSender


async def _receiver() -> tuple[asyncio.AbstractServer, list[bytes]]:
    hits: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.readuntil(b"\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nlanded")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0), hits


async def test_a_name_resolving_to_an_internal_address_at_connection_time_is_not_connected() -> None:
    """The dispatcher checked the name, then aiohttp resolved it again on its own: a name answering a public address
    to the check and 127.0.0.1 to the connection (DNS rebinding) reached internal services, and the first 500
    characters of their answer were stored for the workspace's admins."""
    server, hits = await _receiver()
    port = server.sockets[0].getsockname()[1]
    url = f"http://localhost:{port}/internal-admin"  # what a rebinding name answers at connection time
    guarded = HttpWebhookSender(timeout_s=5, connect_timeout_s=2, response_cap_bytes=1024)
    allowed = HttpWebhookSender(timeout_s=5, connect_timeout_s=2, response_cap_bytes=1024, allow_private=True)
    try:
        refused = await guarded.send(url, {"content-type": "application/json"}, b"{}")
        assert refused.status_code is None and "does not resolve to a public address" in (refused.error or ""), refused
        assert hits == [] and refused.excerpt == ""
        landed = await allowed.send(url, {"content-type": "application/json"}, b"{}")  # development: private allowed
        assert landed.status_code == 200 and landed.excerpt == "landed" and len(hits) == 1
    finally:
        await guarded.close()
        await allowed.close()
        server.close()
        await server.wait_closed()
