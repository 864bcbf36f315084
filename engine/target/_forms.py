"""Form bodies (urlencoded and multipart) as plain JSON-able dicts, for `/form` and `/login`."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
from urllib.parse import parse_qsl

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

Fields = dict[str, str | list[str]]


class UnsupportedForm(ValueError):
    pass


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def parse_query(query: str) -> Fields:
    return _collect(parse_qsl(query, keep_blank_values=True, errors="replace"))


def parse_form(content_type: str, body: bytes) -> tuple[Fields, dict[str, dict[str, object]]]:
    """(fields, files) of a form body; files are described (type, size, sha256), not echoed."""
    kind = media_type(content_type)
    if kind == URLENCODED:
        return parse_query(body.decode("latin-1")), {}
    if kind == MULTIPART:
        return _parse_multipart(content_type, body)
    raise UnsupportedForm(f"not a form: {kind or 'no content-type'}")


def _parse_multipart(content_type: str, body: bytes) -> tuple[Fields, dict[str, dict[str, object]]]:
    # The stdlib's MIME parser does the multipart work; it only needs the Content-Type header.
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise UnsupportedForm("malformed multipart body")
    fields: list[tuple[str, str]] = []
    files: dict[str, dict[str, object]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields.append((name, data.decode("utf-8", "replace")))
        else:
            files[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    return _collect(fields), files


def _collect(pairs: list[tuple[str, str]]) -> Fields:
    """One value stays a string; a repeated name becomes a list, in order."""
    fields: Fields = {}
    for name, value in pairs:
        seen = fields.get(name)
        if seen is None:
            fields[name] = value
        elif isinstance(seen, list):
            seen.append(value)
        else:
            fields[name] = [seen, value]
    return fields
