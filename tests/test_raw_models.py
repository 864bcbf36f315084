"""The engine's own request and response against httpx's: both paths give the same results.

The engine sends `RawRequest`s and builds `httpx.Request`/`httpx.Response` only where someone
reads one, through httpx's public constructors. These tests hold the two views to each other:
the same method, URL, header fields and body; the same bytes on the wire; the same response.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from loadscope.engine._config import HttpVersion, RunnerConfig, SessionConfig
from loadscope.engine.diagnostics import ConnectionLedger
from loadscope.engine.target import TargetProcess
from loadscope.engine.transport import (
    RawResponse,
    Runner,
    from_httpx,
    to_httpx,
    to_response,
    url_of,
)
from loadscope.engine.transport._serialize import h1_bytes, h2_headers

from .test_runbook_run import book, prepared, run

_CLIENT_HEADERS = {"User-Agent": "loadscope/0.1", "Accept-Encoding": "gzip, deflate"}

REQUESTS = [
    httpx.Request("GET", "http://127.0.0.1:8080/a/b?x=1&y=%2F"),
    httpx.Request("GET", "http://example.test/"),
    httpx.Request("GET", "https://[::1]:8443/v6?q=%E2%9C%93"),
    httpx.Request("POST", "http://127.0.0.1/json", json={"a": [1, 2], "b": "ü"}),
    httpx.Request("PUT", "http://127.0.0.1/form", data={"k": "v w"}),
    httpx.Request("POST", "http://127.0.0.1/empty"),
    httpx.Request(
        "GET",
        "http://127.0.0.1/multi",
        headers=[("X-Many", "1"), ("x-many", "2"), ("Accept", "a/b"), ("Connection", "keep")],
    ),
]


def _by_hand_h1(request: httpx.Request) -> bytes:
    """HTTP/1.1 bytes of an `httpx.Request`, read through its public attributes."""
    head = b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)
    fields = b"".join(b"%s: %s\r\n" % pair for pair in request.headers.raw)
    return head + fields + b"\r\n" + request.content


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r.method} {r.url.path}")
def test_a_request_survives_the_round_trip(request_: httpx.Request) -> None:
    raw = from_httpx(request_)
    back = to_httpx(raw)
    assert back.method == request_.method
    assert back.url == request_.url and back.url.raw_path == request_.url.raw_path
    assert back.headers.raw == request_.headers.raw
    assert back.content == request_.content
    assert url_of(raw) == request_.url
    assert raw.origin.port == (request_.url.port or {"http": 80, "https": 443}[raw.origin.scheme])


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r.method} {r.url.path}")
def test_the_wire_bytes_are_the_httpx_requests(request_: httpx.Request) -> None:
    raw = from_httpx(request_)
    assert h1_bytes(raw) == _by_hand_h1(request_)
    assert h1_bytes(raw) is h1_bytes(raw)  # serialized once, then cached
    assert h1_bytes(raw, close=True).count(b"\r\nConnection: close\r\n") == 1
    pseudo = dict(h2_headers(raw)[:4])
    assert pseudo[b":path"] == request_.url.raw_path
    assert pseudo[b":authority"] == request_.headers["host"].encode()
    assert pseudo[b":scheme"] == request_.url.scheme.encode()


def test_keep_body_rides_along_both_ways() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/", extensions={"loadscope.keep_body": False})
    raw = from_httpx(request)
    assert raw.keep_body is False
    assert from_httpx(to_httpx(raw)).keep_body is False
    assert from_httpx(httpx.Request("GET", "http://127.0.0.1/")).keep_body is True


def _plain_response(raw: RawResponse) -> httpx.Response:
    return httpx.Response(raw.status, headers=raw.headers, content=raw.body)


@pytest.mark.parametrize(
    "headers, body",
    [
        ([(b"Content-Type", b"application/json")], json.dumps({"a": 1}).encode()),
        (
            [(b"Content-Encoding", b"gzip"), (b"Content-Type", b"text/plain")],
            gzip.compress(b"hi", mtime=0),
        ),
        ([(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")], b""),
    ],
    ids=["json", "gzip", "cookies"],
)
def test_a_response_reads_as_httpx_reads_it(
    headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    raw = RawResponse(200, headers, body, b"HTTP/1.1")
    request = httpx.Request("GET", "http://127.0.0.1/")
    response = to_response(raw, request)
    expected = _plain_response(raw)
    assert response.status_code == 200 and response.request is request
    assert response.content == expected.content
    assert response.headers.raw == headers
    assert response.extensions["http_version"] == b"HTTP/1.1"


@pytest.mark.parametrize(
    "step, method, path, headers, body",
    [
        (
            "      /items/{{ vars.id }}?q=a b:\n        get:\n          headers:\n"
            "            Authorization: 'Bearer {{ vars.token }}'\n            X-Two: [a, b]\n",
            "GET",
            "/base/items/7?q=a%20b",
            [("Authorization", "Bearer t0k"), ("X-Two", "a"), ("X-Two", "b")],
            None,
        ),
        (
            "      /post:\n        post:\n          body:\n"
            "            application/json:\n              id: '{{ vars.id }}'\n",
            "POST",
            "/base/post",
            [],
            b'{"id":7}',  # a lone template keeps its type, as runn does
        ),
    ],
)
def test_a_templated_request_is_the_one_httpx_would_build(
    tmp_path: Path,
    step: str,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
) -> None:
    text = (
        "runners:\n  req: http://127.0.0.1:8080/base\nvars:\n  id: 7\n  token: t0k\n"
        f"steps:\n  s:\n    req:\n{step}"
    )
    vu = run(prepared(book(tmp_path, text)))
    view = vu.sent[0][1]
    raw = vu.raw[id(view)]
    expected = httpx.AsyncClient(headers=_CLIENT_HEADERS).build_request(
        method,
        "http://127.0.0.1:8080" + path,
        headers=headers + ([("Content-Type", "application/json")] if body else []),
        content=body,
    )
    built = to_httpx(raw)
    assert h1_bytes(raw) == _by_hand_h1(built)
    assert built.method == expected.method
    assert built.url == expected.url
    assert sorted(built.headers.multi_items()) == sorted(expected.headers.multi_items())
    assert built.content == expected.read()


@pytest.mark.parametrize("version", [HttpVersion.HTTP1, HttpVersion.HTTP2])
async def test_the_engine_and_the_httpx_client_get_the_same_answer(
    target: TargetProcess, version: HttpVersion
) -> None:
    runner = Runner(
        RunnerConfig(name="t", base_url=target.http_url),
        SessionConfig(http_version=version),
        ConnectionLedger(),
    )
    try:
        for path in ("/json", "/bytes/1000", "/status/404"):
            raw = await runner.shared.exchange(runner.build_request("GET", path), 10.0)
            response = await runner.client.get(path)
            assert response.status_code == raw.status
            assert response.content == raw.body
            drop = {"date"}
            assert [(k, v) for k, v in response.headers.raw if k.lower() not in drop] == [
                (k, v) for k, v in raw.headers if k.lower() not in drop
            ]
    finally:
        await runner.aclose()
