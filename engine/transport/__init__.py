"""The transport: connection pools, HTTP/1.1 on httptools, HTTP/2 on h2, TLS configured once.

Connections of both protocols stand behind one interface (`interfaces.py`); the pool is written
against it. Runners (a pool set per origin, shared by every virtual user) live here too.
"""
