"""Signed cache entries: an entry someone else planted in the store is never trusted.

Each entry written by `Store.commit` carries `"signature"`: an HMAC-SHA256 of the
entry's canonical JSON with a key kept *outside* the store. Whoever can write the
store folder but does not hold the key cannot make an entry that is loaded, so a
planted pickle (named by its own sha256, so its checksum passes) is never
deserialized, and planted displayed outputs are never shown.

The key, first found wins:
1. `$MLPIPE_SIGNING_KEY`: the key itself (a team shares one by configuration);
2. `$MLPIPE_SIGNING_KEY_FILE`: a file holding it;
3. `<jupyter data dir>/mlpipe/signing.key`: made on first use, 32 random bytes,
   mode 0600 (per user by default).
Two people share results only where their keys match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

KEY_ENV = "MLPIPE_SIGNING_KEY"
KEY_FILE_ENV = "MLPIPE_SIGNING_KEY_FILE"
SIGNATURE = "signature"

_cached: tuple[tuple[str | None, str | None, str], bytes] | None = None


def default_key_path() -> Path:
    """`<jupyter data dir>/mlpipe/signing.key`, the per-user key."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mlpipe" / "signing.key"


def signing_key() -> bytes:
    """The key entries are signed and checked with (made on first use)."""
    global _cached
    env, env_file = os.environ.get(KEY_ENV), os.environ.get(KEY_FILE_ENV)
    path = Path(env_file).expanduser() if env_file else default_key_path()
    marker = (env, env_file, str(path))
    if _cached is not None and _cached[0] == marker:
        return _cached[1]
    if env:
        key = env.encode("utf-8")
    elif env_file:
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise RuntimeError(
                f"${KEY_FILE_ENV}={env_file}: cannot read the signing key ({exc.strerror})"
            ) from None
    else:
        key = _read_or_make(path)
    _cached = (marker, key)
    return key


def _read_or_make(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32).encode("ascii")
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)  # never replaces a key another process made first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _digest(data: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in data.items() if k != SIGNATURE}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its signature added."""
    return {**data, SIGNATURE: _digest(data, signing_key())}


def verify(data: dict[str, Any]) -> str | None:
    """None when `data` carries a valid signature by our key, else why not."""
    given = data.get(SIGNATURE)
    if not isinstance(given, str):
        return "it is not signed"
    if not hmac.compare_digest(given, _digest(data, signing_key())):
        return "its signature does not match this store's key"
    return None
