"""TLS contexts: built once per runner and protocol choice, never changed per request."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import certifi

from .._config import HttpVersion

ALPN = {
    HttpVersion.AUTO: ["h2", "http/1.1"],
    HttpVersion.HTTP1: ["http/1.1"],
    HttpVersion.HTTP2: ["h2"],
    HttpVersion.HTTP3: ["h2", "http/1.1"],  # TCP contexts only; HTTP/3 uses QuicSettings
}


@dataclass(frozen=True, slots=True)
class QuicSettings:
    """TLS for QUIC (HTTP/3), the runner's equivalent of its `ssl.SSLContext`s, built once:
    aioquic does TLS 1.3 itself and takes these instead of a context."""

    skip_verify: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    idle_timeout: float = 90.0


def build_ssl_context(
    http_version: HttpVersion,
    *,
    skip_verify: bool = False,
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cacert or certifi.where())
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    context.set_alpn_protocols(ALPN[http_version])
    return context
