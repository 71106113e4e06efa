"""The text that gets hashed: canonical JSON and SHA-256 of text.

The lowest piece of `cache/`: keys, module sources and file facts all hash with
these, so none of them needs another's module to do it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the text that gets hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
