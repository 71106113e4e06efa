"""Displayed outputs shown as a Jupyter frontend shows an untrusted notebook's outputs.

A replayed display reaches JupyterLab as live output, which it trusts: HTML is
rendered as it is and JavaScript runs. So a display whose cache entry is not
signed with our key is cleaned before it is shown, with the rules JupyterLab
applies to an untrusted notebook: only mime types that cannot run code are kept
(`application/javascript`, `image/svg+xml`, widget views and unknown types are
dropped), and HTML (and Markdown, which may hold raw HTML) goes through nh3, the
Ammonia sanitizer: no `<script>`, `<style>`, `<iframe>`, `<object>`, `<embed>`,
no `on*` handler attributes, no `javascript:` URLs. Streams are text and are kept.
"""

from __future__ import annotations

from typing import Any

#: mime types an untrusted output keeps: text and raster images, none of which runs code
_SAFE = frozenset({
    "text/plain", "text/latex", "application/json",
    "image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp",
})
#: mime types kept after their HTML is cleaned
_CLEANED = frozenset({"text/html", "text/markdown"})
#: attributes beyond nh3's defaults: what pandas and IPython tables use
_TABLE_ATTRIBUTES = {"table": {"border", "class"}, "th": {"class"}, "td": {"class"},
                     "tr": {"class"}, "div": {"class"}, "span": {"class"}}


def clean_html(html: str) -> str:
    """`html` without scripts, embedded frames, handler attributes or javascript: URLs."""
    import nh3

    attributes = {tag: set(allowed) for tag, allowed in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag, extra in _TABLE_ATTRIBUTES.items():
        attributes[tag] = attributes.get(tag, set()) | extra
    return nh3.clean(html, attributes=attributes, url_schemes={"http", "https", "mailto"})


def sanitize_output(output: dict[str, Any]) -> dict[str, Any] | None:
    """The output as an untrusted notebook's would be shown; None if nothing is left."""
    kind = output.get("output_type")
    if kind == "stream":
        return output
    if kind not in ("display_data", "execute_result"):
        return None
    data = {}
    for mime, value in (output.get("data") or {}).items():
        text = "".join(value) if isinstance(value, list) else value
        if mime in _SAFE:
            data[mime] = text
        elif mime in _CLEANED and isinstance(text, str):
            data[mime] = clean_html(text)
    if not data:
        return None
    return {**output, "data": data}


def sanitize_outputs(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each output sanitized (`sanitize_output`), those left empty dropped."""
    cleaned = (sanitize_output(o) for o in outputs if isinstance(o, dict))
    return [o for o in cleaned if o is not None]
