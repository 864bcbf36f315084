"""The built-in target: the HTTP server that loadscope's tests and demos load-test.

It runs in its own process(es) on a loopback address, and counts the TCP connections it accepts
in shared memory that the parent reads without opening a connection: the ground truth for tests
about connection reuse.

    with TargetProcess(TargetOptions(tls=True)) as target:  # or .start() / .stop()
        target.http_url      # http://127.0.0.1:PORT: HTTP/1.1, and h2c with prior knowledge
        target.https_url     # https://127.0.0.1:PORT: ALPN h2 / http/1.1 (None without tls)
        target.cert_path     # the self-signed certificate made at start: verify with it as cacert
        target.accepted()    # connections accepted, all listeners; accepted("http" / "https")
        target.open_connections(); target.requests(); target.stats()
        target.wait_until(lambda t: t.open_connections() == 0)  # counts trail a client a little

`serve(options, ready_callback)` runs one worker on the running loop until cancelled;
`run_foreground(options)` is `loadscope target` (and `python -m loadscope.engine.target`).
Children are spawned, so a script that starts a target needs the `if __name__ == "__main__":` guard.

Endpoints, on every protocol (HEAD works wherever GET does):
    /  -> "ok\\n"           /json  a small object       /bytes/{n}  n bytes (n <= 64 MiB)
    /echo       method, path, query, args, headers, body (base64 if binary), json, http_version
    /delay/{ms} answers after ms (a loop timer)      /status/{code}  that status (200-599)
    /close      answers, then closes (HTTP/1.1: `Connection: close`; HTTP/2 and HTTP/3: GOAWAY)
    /reset/{code}  no answer: the stream is reset with that error code (HTTP/2 RST_STREAM,
                HTTP/3 RESET_STREAM); over HTTP/1.1 the connection is reset (a TCP RST)
    /users      POST a JSON object -> 201 {"id": N, ...} + Location; GET lists; GET /users/{id}
    /login      GET ?user=, or POST form / multipart / JSON {user|username, password}: sets
                `session=...; Path=/` (any password is accepted; the user defaults to "guest")
    /me         200 {"user": ...} with a valid session cookie, 401 without
    /form       a urlencoded or multipart body as {"content_type", "fields", "files"}; 415 else
    /redirect/{n}  302 to /redirect/{n-1}, ..., then to /
    /__stats    the counters below as JSON, plus this worker and its pid
    anything else: 404; a wrong method: 405 with Allow.
Users live in the worker that created them (ids never collide across workers); session cookies
are signed, so any worker accepts them.

Counting. A connection counts as accepted at TCP accept: in `connection_made` on the plain
listener; the TLS listener accepts in Python and counts before the handshake, so a failed
handshake counts as accepted, then closed. `/__stats` includes the connection that asks. Each
worker writes only its own slots of a shared array, so the counts need no lock. A client's
connect() returns before the server has accepted, and its close() before the server notices:
poll with `wait_until`, or compare after a response has arrived. `requests` counts complete
requests, when they arrive.

Knobs (`TargetOptions`): `keepalive_timeout` closes connections idle that long (HTTP/1.1 answers
advertise `Keep-Alive: timeout=N`; HTTP/2 gets a GOAWAY); `always_close` closes after every
answer (HTTP/2: GOAWAY, sent once the streams in flight are answered, as h2 clients need);
`workers` processes share the ports with SO_REUSEPORT and the counters; `plain` makes the plain
port HTTP/1.1 only ("http1") or h2c only ("h2c", for `loadscope target --h2c`);
`max_concurrent_streams`; `http3_port` adds HTTP/3 on UDP (see `_h3`), and
`http3_goaway_after` sends a QUIC connection GOAWAY after that many requests.

Why these libraries. No web framework: it would add work per request and hide the connection
life cycle this server exists to count. asyncio Protocols (not streams: no task or buffer per
request) on uvloop when installed (1.1-1.5x asyncio's own loop for HTTP/1.1 here), httptools
(llhttp, Node's C parser; also the engine's) for HTTP/1.1, and h2, the maintained sans-IO HTTP/2
implementation for Python. h2 is pure Python and is the ceiling: an HTTP/2 request costs 6-8x
the CPU of an HTTP/1.1 one.

Measured (2 CPUs; the server pinned to CPU 1, the client to CPU 0; 50 connections, GET /;
best of 3 runs of 5 s, each started on a quiet machine; wrk for HTTP/1.1, h2load for HTTP/2):

                                       target, 1 worker   2 workers (CPU 1)   nginx, 1 worker
    HTTP/1.1 keep-alive                     89k req/s          89k              135k
    HTTP/1.1 over TLS                       61k                55k               93k
    HTTP/1.1, a connection per request      22k                17k               20k (1)
    h2c, 10 streams per connection          16k                13k               80k
    h2c, 1 stream per connection            11k                 9k               73k
    h2 over TLS, 10 streams                 14k                13k              130k

(1) wrk's own connection setup is the limit there, for both. Two workers sharing both CPUs with
the client: HTTP/1.1 77k, h2c 28k (10 streams), h2 over TLS 26k.
"""

from __future__ import annotations

from ._cert import write_self_signed
from ._counters import SharedCounters
from ._foreground import WorkerDied, run_foreground
from ._options import Listener, PlainProtocols, TargetOptions
from ._process import TargetProcess
from ._server import ListenError, TargetInfo, serve

__all__ = [
    "ListenError",
    "Listener",
    "PlainProtocols",
    "SharedCounters",
    "TargetInfo",
    "TargetOptions",
    "TargetProcess",
    "WorkerDied",
    "run_foreground",
    "serve",
    "write_self_signed",
]
