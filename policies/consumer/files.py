"""Files: the cache file (last good documents, written by the consumer) and the bootstrap
file (documents to start from, written by a person or a deploy step).

Both hold a JSON list of ``{"document": "<the exact body as a string>", "signature":
"<compact detached JWS>"}`` (design.md, "Signed documents"); the cache file adds ``etag`` and
``confirmed_at``. For migration, a bootstrap file may also be a document object, a list of
them, or the answer of ``GET /api/v1/policies`` saved as is; such documents are serialised
canonically (sorted keys, no spaces, as central serves them), so their signatures, when
present, still verify. Nothing here trusts what it reads: the client verifies and validates
every document. No Django import.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from policies.consumer.model import Copy

__all__ = ["read_bootstrap", "read_cache", "write_cache"]

logger = logging.getLogger("policies.consumer")


def _canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _entry(item: Any, where: str) -> Copy | None:
    """One list item: ``{"document": str|object, "signature", ...}`` or a bare document."""
    if not isinstance(item, dict):
        logger.error("corsadmin: %s: an entry is not an object; skipped", where)
        return None
    if "document" not in item:
        return Copy(body=_canonical(item), signature=None, etag=None, confirmed_at=0.0)
    document = item["document"]
    body = document.encode() if isinstance(document, str) else _canonical(document)
    signature = item.get("signature")
    etag = item.get("etag")
    try:
        confirmed_at = float(item.get("confirmed_at") or 0.0)
    except (TypeError, ValueError):
        confirmed_at = 0.0
    return Copy(
        body=body,
        signature=signature if isinstance(signature, str) else None,
        etag=etag if isinstance(etag, str) else None,
        confirmed_at=confirmed_at,
    )


def _entries(data: Any, where: str) -> list[Copy]:
    if isinstance(data, dict) and isinstance(data.get("policies"), list):
        items: list[Any] = data["policies"]  # GET /api/v1/policies, saved as is
    elif isinstance(data, dict) and isinstance(data.get("documents"), dict):
        # The cache file of earlier consumers: {"documents": {slug: {"body", "etag", ...}}}.
        items = [
            {"document": entry.get("body"), **entry}
            for entry in data["documents"].values()
            if isinstance(entry, dict) and isinstance(entry.get("body"), str)
        ]
    elif isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        logger.error("corsadmin: %s is not a list of documents", where)
        return []
    return [copy for item in items if (copy := _entry(item, where)) is not None]


def _read(path: Path, what: str) -> list[Copy]:
    where = f"{what} {path}"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        if what == "bootstrap file":
            logger.error("corsadmin: %s does not exist", where)
        return []
    except (OSError, ValueError) as exc:
        logger.error("corsadmin: %s is unreadable: %s", where, exc)
        return []
    return _entries(data, where)


def read_cache(path: Path) -> list[Copy]:
    """The documents of the cache file ([] when absent; unreadable: logged, [])."""
    return _read(path, "cache file")


def read_bootstrap(path: Path) -> list[Copy]:
    """The documents of the bootstrap file (missing or unreadable: logged, [])."""
    return _read(path, "bootstrap file")


def write_cache(path: Path, copies: Iterable[Copy]) -> str | None:
    """Replace the cache file atomically (temporary file + rename); the error, if any."""
    entries = [
        {
            "document": copy.body.decode(),
            "signature": copy.signature,
            "etag": copy.etag,
            "confirmed_at": copy.confirmed_at,
        }
        for copy in copies
    ]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(entries))
        os.replace(temporary, path)
    except (OSError, UnicodeDecodeError) as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        return str(exc)
    return None
