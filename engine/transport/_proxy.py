"""The CONNECT handshake with an HTTP proxy: ask for a tunnel to `host:port`, read the proxy's
answer, and leave whatever follows it for the protocol that takes the tunnel over."""

from __future__ import annotations

import asyncio
from typing import Protocol

from ._errors import ConnectError, ConnectTimeout
from ._route import Proxy

MAX_CONNECT_REPLY = 64 * 1024  # a proxy's answer head past this is not an answer


class TunnelBuffer(Protocol):
    """The protocol holding a fresh proxy connection (the connector's handshake buffer)."""

    buffered: list[bytes]
    is_lost: bool
    arrived: asyncio.Event | None


def connect_request(authority: str, proxy: Proxy) -> bytes:
    head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
    return head + proxy.request_headers() + b"\r\n"


def parse_connect_reply(head: bytes) -> tuple[int, str]:
    """(status, reason) of the reply's status line; ValueError if it is not HTTP."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ValueError(f"not an HTTP reply: {line[:80]!r}")
    return int(code), reason.strip()


async def open_tunnel(
    transport: asyncio.Transport,
    buffer: TunnelBuffer,
    authority: str,
    proxy: Proxy,
    timeout: float,
) -> None:
    """Send CONNECT and wait for a 2xx; bytes after the reply's head stay in `buffer`.
    Raises ConnectError (kind `proxy_error`) when the proxy refuses or breaks off."""
    buffer.arrived = asyncio.Event()
    transport.write(connect_request(authority, proxy))
    try:
        head = await asyncio.wait_for(_reply_head(buffer), max(timeout, 0.0))
    except TimeoutError:
        raise ConnectTimeout(f"proxy {proxy.display}: no answer to CONNECT {authority}") from None
    finally:
        buffer.arrived = None
    try:
        status, reason = parse_connect_reply(head)
    except ValueError as exc:
        raise ConnectError(f"proxy {proxy.display}: {exc}", "proxy_error") from None
    if not 200 <= status < 300:
        message = f"proxy {proxy.display} refused CONNECT {authority}: {status} {reason}"
        raise ConnectError(message.rstrip(), "proxy_error")


async def _reply_head(buffer: TunnelBuffer) -> bytes:
    arrived = buffer.arrived
    assert arrived is not None
    while True:
        data = b"".join(buffer.buffered)
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            rest = data[end + 4 :]
            buffer.buffered[:] = [rest] if rest else []
            return data[:end]
        if buffer.is_lost:
            raise ConnectError("the proxy closed the connection during CONNECT", "proxy_error")
        if len(data) > MAX_CONNECT_REPLY:
            raise ConnectError("the proxy's CONNECT reply is too long", "proxy_error")
        arrived.clear()
        await arrived.wait()
