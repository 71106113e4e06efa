"""Cached displays are shown raw only from an entry signed with our key (issue 10 item 2).

In a real IPython shell with a real store: our own signed entry replays its HTML and
JavaScript as they were; a display planted in an entry (its signature no longer
matches) is never shown raw: the entry is ignored and the cell runs, and where a
store hands an unverified entry over anyway, its displays are sanitized.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbfiles
import pytest
from IPython.utils.capture import capture_output

from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.magics.sanitize import sanitize_output

SHOW = (
    "%%step show\nfrom IPython.display import HTML, display\n"
    "display(HTML('<b>ours</b><script>var ours = 1;</script>'))\nshown = 1"
)
PLANTED_HTML = (
    '<b>planted</b><script>fetch("/marker")</script>'
    '<img src="x" onerror="fetch(\'/marker\')"><iframe src="https://evil"></iframe>'
    '<a href="javascript:fetch(\'/marker\')">link</a>'
)
PLANTED = [
    {"output_type": "display_data", "metadata": {},
     "data": {"text/html": PLANTED_HTML, "text/plain": "<planted>"}},
    {"output_type": "display_data", "metadata": {},
     "data": {"application/javascript": "fetch('/marker')", "text/plain": "js"}},
]


@pytest.fixture
def store(ip: Any, tmp_path: Path, monkeypatch: Any) -> Store:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    path = nbfiles.write_notebook(tmp_path / "nb.ipynb", ["%load_ext mlpipe_jupyter", SHOW])
    (tmp_path / ".mlpipe").mkdir()
    ip.user_ns["__session__"] = str(path)
    # what a notebook's kernel formats (the terminal shell keeps text/plain only)
    monkeypatch.setattr(ip.display_formatter, "active_types",
                        ["text/plain", "text/html", "application/javascript"])
    return Store.open(tmp_path / ".mlpipe")


def shown(ip: Any, source: str) -> tuple[str, list[dict[str, Any]]]:
    """(what the cell printed, the data of each rich output it displayed)."""
    with capture_output() as cap:
        result = ip.run_cell(source, store_history=True)
    assert result.success, result.error_in_exec
    return cap.stdout, [dict(o.data) for o in cap.outputs]


def plant(store: Store, *, keep_signature: bool) -> None:
    """Put the planted displays into every entry there is."""
    entries = list(store.cache_dir.glob("*.json"))
    assert entries
    for path in entries:
        data = json.loads(path.read_text())
        data["displays"] = PLANTED
        if not keep_signature:
            del data["signature"]
        path.write_text(json.dumps(data))


def test_our_signed_entry_replays_its_displays_as_they_were(ip: Any, store: Store) -> None:
    shown(ip, SHOW)
    out, displays = shown(ip, SHOW)
    assert "restored from cache" in out
    assert any("<script>var ours = 1;</script>" in d.get("text/html", "") for d in displays)


@pytest.mark.parametrize("keep_signature", [True, False], ids=["edited", "unsigned"])
def test_a_planted_display_is_never_shown(ip: Any, store: Store, keep_signature: bool) -> None:
    shown(ip, SHOW)
    plant(store, keep_signature=keep_signature)
    out, displays = shown(ip, SHOW)
    assert "restored from cache" not in out  # the entry is ignored: the cell ran
    assert displays == [{"text/html": "<b>ours</b><script>var ours = 1;</script>",
                         "text/plain": "<IPython.core.display.HTML object>"}]


def test_an_unverified_entry_that_reaches_a_restore_is_sanitized(
        ip: Any, store: Store, monkeypatch: Any) -> None:
    shown(ip, SHOW)
    plant(store, keep_signature=True)
    # a store that hands over entries without checking their signature
    monkeypatch.setattr("mlpipe_jupyter.cache.store.verify", lambda data: None)
    out, displays = shown(ip, SHOW)
    assert "restored from cache" in out
    assert displays == [
        {"text/html": '<b>planted</b><img src="x"><a rel="noopener noreferrer">link</a>',
         "text/plain": "<planted>"},
        {"text/plain": "js"},
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"text/html": "<p onclick='x()'>a</p><script>x()</script>"}, {"text/html": "<p>a</p>"}),
        ({"text/html": "<object data='x'></object><embed src='y'>ok"}, {"text/html": "ok"}),
        ({"text/html": '<table border="1" class="dataframe"><tr><td>1</td></tr></table>'},
         {"text/html": '<table border="1" class="dataframe"><tbody><tr><td>1</td></tr>'
                       "</tbody></table>"}),
        ({"text/markdown": "**b** <img src=x onerror=alert(1)>"},
         {"text/markdown": '**b** <img src="x">'}),
        ({"image/svg+xml": "<svg onload='x()'/>", "image/png": "iVBOR", "text/plain": "fig"},
         {"image/png": "iVBOR", "text/plain": "fig"}),
        ({"application/vnd.jupyter.widget-view+json": {"model_id": "m"}}, None),
    ],
    ids=["handlers-and-script", "object-embed", "dataframe-kept", "markdown", "svg", "widget"],
)
def test_sanitize_keeps_only_what_cannot_run_code(data: dict[str, Any], expected: Any) -> None:
    output = {"output_type": "display_data", "data": data, "metadata": {}}
    cleaned = sanitize_output(output)
    assert (cleaned["data"] if cleaned else None) == expected


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_under_papermill_a_pipeline_entry_replays_and_a_planted_display_never_shows(
        tmp_path: Path, monkeypatch: Any) -> None:
    """From outside: `mlpipe run`, then papermill restores the step with its own HTML; after
    a display is planted in that entry, papermill runs the step and shows only its own."""
    import subprocess
    import sys

    import papermill

    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    path = nbfiles.write_notebook(tmp_path / "nb.ipynb", ["%load_ext mlpipe_jupyter", SHOW])
    mlpipe = Path(sys.executable).with_name("mlpipe")
    done = subprocess.run([str(mlpipe), "run", str(path), "--workers", "1"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]

    def html_shown() -> tuple[str, list[str]]:
        out = tmp_path / "out.ipynb"
        papermill.execute_notebook(str(path), str(out), kernel_name="python3",
                                   progress_bar=False, cwd=str(tmp_path))
        cell = json.loads(out.read_text())["cells"][1]
        printed = "".join("".join(o.get("text", "")) for o in cell["outputs"]
                          if o["output_type"] == "stream")
        return printed, ["".join(o["data"]["text/html"]) for o in cell["outputs"]
                         if "text/html" in o.get("data", {})]

    printed, html = html_shown()
    assert "restored from cache" in printed
    assert html == ["<b>ours</b><script>var ours = 1;</script>"]
    plant(Store.open(tmp_path / ".mlpipe"), keep_signature=True)
    printed, html = html_shown()
    assert "restored from cache" not in printed  # the edited entry is not trusted: it ran
    assert html == ["<b>ours</b><script>var ours = 1;</script>"]
