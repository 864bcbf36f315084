"""The dump runner's `out:`: a dump written to a file, as runn writes it.

Each dump creates (or truncates) the file: under load the last iteration's dump is what stays.
A string is written as it is, anything else as indented JSON with sorted keys (Go's encoder);
a newline follows unless `disableTrailingNewline`; secrets are masked unless
`disableMaskingSecrets`. A relative path is relative to the runbook's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..redact import redact_text
from ..session.scenario import IterationFailed
from ._template import Template, render_text
from ._values import plain


@dataclass(frozen=True, slots=True)
class DumpOut:
    path: Template  # `out:`, a template rendered per dump
    directory: Path
    trailing_newline: bool = True
    mask_secrets: bool = True

    def write(self, step: str, scope: Any, value: Any) -> None:
        target = Path(render_text(self.path.render(scope)))
        if not target.is_absolute():
            target = self.directory / target
        text = dump_text(value) + ("\n" if self.trailing_newline else "")
        if self.mask_secrets:
            text = redact_text(text)
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise IterationFailed(f"{step}: dump failed: cannot write {target}: {reason}") from None


def dump_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(plain(value), indent=2, ensure_ascii=False, sort_keys=True)
