"""An HTTP runner's `cacert`, `cert` and `key` files, checked at load: a file that is not what
its key says fails there, at its line, rather than when the first connection is made."""

from __future__ import annotations

import ssl


class _Encrypted(Exception):
    """The key asked for a password: runn reads unencrypted keys only."""


def _no_password() -> bytes:
    # Without a callback OpenSSL would prompt for the pass phrase on the terminal.
    raise _Encrypted


def cacert_problem(path: str) -> str:
    """Why `path` holds no PEM certificate to verify servers with, or "" when it does."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        return f"not a PEM certificate ({_why(exc, 'bad PEM data')})"
    return ""


def key_pair_problem(cert: str, key: str) -> tuple[str, str]:
    """Which of `cert`/`key` is wrong and why, or ("", "") when they make a client certificate."""
    problem = cacert_problem(cert)
    if problem:
        return "cert", problem
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key, password=_no_password)
    except _Encrypted:
        return "key", "an encrypted private key (runn reads unencrypted keys only)"
    except ssl.SSLError as exc:
        if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
            return "key", "does not match the certificate in `cert`"
        return (
            "key",
            f"not a PEM private key ({_why(exc, 'no private key in it, or bad PEM data')})",
        )
    return "", ""


def _why(exc: ssl.SSLError, pem_lib: str) -> str:
    """OpenSSL's reason in words; `pem_lib` for its catch-all "PEM lib" (no reason given)."""
    reason: str | None = getattr(exc, "reason", None)  # None for "PEM lib", whatever typeshed says
    if reason == "NO_CERTIFICATE_OR_CRL_FOUND":
        return "no certificate in it"
    if reason is None:
        return pem_lib
    return reason.replace("_", " ").lower()
