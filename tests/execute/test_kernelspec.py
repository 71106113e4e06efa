"""`%%step --kernel KERNELSPEC`: the step runs on that kernelspec, keyed by its versions.

The test makes a second environment: a venv (no pip, made in milliseconds)
whose site-packages holds `mlpipe_testpkg` 2 and a `.pth` that adds this
venv's site-packages after its own (for ipykernel and mlpipe_jupyter), and a
kernelspec for it on `JUPYTER_PATH`. The default environment sees
`mlpipe_testpkg` 1 from a folder on `PYTHONPATH`; the kernelspec clears
`PYTHONPATH` in its `env`, as a kernel.json may.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlpipe_jupyter.analysis import analyze_notebook
from mlpipe_jupyter.cache.kernelenv import KernelEnvError
from mlpipe_jupyter.cache.keys import explain, key_ingredients
from nbfiles import write_notebook
from mlpipe_jupyter.execute.runner import SNAPSHOT_FILE

KERNEL = "mlpipe-test-alt"


def _package(folder: Path, version: str) -> None:
    """`mlpipe_testpkg` `version`, installed (with its dist-info) straight into `folder`."""
    pkg = folder / "mlpipe_testpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f'__version__ = "{version}"\n')
    info = folder / f"mlpipe_testpkg-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: mlpipe-testpkg\nVersion: {version}\n"
    )
    (info / "top_level.txt").write_text("mlpipe_testpkg\n")
    (info / "RECORD").write_text("")


@dataclass(frozen=True)
class TwoEnvs:
    v1: Path  # the folder on PYTHONPATH holding version 1
    jupyter_path: Path  # where the kernelspec lives
    python: Path  # the second environment's interpreter

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.v1), "JUPYTER_PATH": str(self.jupyter_path)}


@pytest.fixture(scope="module")
def two_envs(tmp_path_factory: pytest.TempPathFactory) -> TwoEnvs:
    root = tmp_path_factory.mktemp("kernelspec")
    v1 = root / "v1"
    v1.mkdir()
    _package(v1, "1")
    venv = root / "alt"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""},
    ).stdout.strip())
    _package(own, "2")
    ours = site.getsitepackages()[0]
    (own / "zz_mlpipe_main.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    prefix = root / "prefix"
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL],
        check=True, capture_output=True, env={**os.environ, "PYTHONPATH": ""},
    )
    jupyter_path = prefix / "share" / "jupyter"
    spec_file = jupyter_path / "kernels" / KERNEL / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["env"] = {"PYTHONPATH": ""}  # the default environment's folder is not this one's
    spec_file.write_text(json.dumps(spec))
    return TwoEnvs(v1, jupyter_path, python)


def _notebook(path: Path, kernel_option: str) -> Path:
    return write_notebook(path, [
        "import mlpipe_testpkg",
        "%%step default_v\nv_default = mlpipe_testpkg.__version__",
        f"%%step alt_v{kernel_option}\nv_alt = mlpipe_testpkg.__version__",
        "%%step both\npair = (v_default, v_alt)",
    ])


def test_kernel_versions_are_key_ingredients(two_envs, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(two_envs.jupyter_path))
    monkeypatch.syspath_prepend(str(two_envs.v1))
    with_kernel = analyze_notebook(_notebook(tmp_path / "a" / "k.ipynb", f" --kernel {KERNEL}"))
    without = analyze_notebook(_notebook(tmp_path / "b" / "k.ipynb", ""))
    ours = key_ingredients(without.step("alt_v"), without, {}, {}, base=tmp_path / "b")
    theirs = key_ingredients(with_kernel.step("alt_v"), with_kernel, {}, {}, base=tmp_path / "a")
    assert ours.packages == {"mlpipe-testpkg": "1"}
    assert theirs.packages == {"mlpipe-testpkg": "2"}
    assert theirs.kernel == KERNEL
    assert ours.key() != theirs.key()
    assert explain(ours, theirs) == (
        f"kernel (default) -> {KERNEL}; package mlpipe-testpkg 1 -> 2"
    )
    assert json.loads(json.dumps(theirs.to_json()))["kernel"] == KERNEL


def test_a_missing_kernelspec_names_the_step_and_the_kernelspec(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "nothing"))
    pipeline = analyze_notebook(write_notebook(tmp_path / "k.ipynb", [
        "%%step train --kernel no-such-kernel\nx = 1",
    ]))
    with pytest.raises(KernelEnvError) as info:
        key_ingredients(pipeline.step("train"), pipeline, {}, {}, base=tmp_path)
    message = str(info.value)
    assert "step 'train'" in message and "no-such-kernel" in message
    assert "\n" not in message


def _run(notebook: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", str(notebook), "--json", "--workers", "1"],
        capture_output=True, text=True, env=env, cwd=notebook.parent, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.integration
def test_a_kernel_step_sees_its_environment(two_envs, tmp_path) -> None:
    import mlpipe_jupyter as mlp

    notebook = _notebook(tmp_path / "k.ipynb", f" --kernel {KERNEL}")
    record = _run(notebook, two_envs.env())
    assert {s["status"] for s in record["steps"].values()} == {"succeeded"}
    run = mlp.get_run(record["run_id"], store=tmp_path / ".mlpipe")
    assert run["both"]["pair"] == ("1", "2")

    # the same step without --kernel: another key, and the default environment's version
    _notebook(notebook, "")
    again = _run(notebook, two_envs.env())
    steps = again["steps"]
    assert steps["default_v"]["status"] == "cached"
    assert steps["alt_v"]["status"] == "succeeded"
    assert f"kernel {KERNEL} -> (default)" in steps["alt_v"]["reason"]
    assert steps["alt_v"]["cache_key"] != record["steps"]["alt_v"]["cache_key"]
    assert mlp.get_run(again["run_id"], store=tmp_path / ".mlpipe")["both"]["pair"] == ("1", "1")


def test_preflight_asks_the_kernels_interpreter_on_the_worker(two_envs, tmp_path, monkeypatch) -> None:
    from mlpipe_jupyter.execute.preflight import probe_worker

    monkeypatch.setenv("JUPYTER_PATH", str(two_envs.jupyter_path))
    answer = probe_worker([], {KERNEL: ["mlpipe_testpkg", "no_such_mlpipe_module"]}, str(tmp_path))
    assert answer["kernels"] == {KERNEL: ["no_such_mlpipe_module"]}


@pytest.mark.integration
def test_a_missing_kernelspec_fails_before_anything_runs(tmp_path) -> None:
    notebook = write_notebook(tmp_path / "k.ipynb", [
        "%%step load\nx = 1",
        "%%step train --kernel no-such-kernel\ny = x + 1",  # pending at planning: load runs first
    ])
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", str(notebook), "--workers", "1"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, "JUPYTER_PATH": str(tmp_path / "no-kernels")},
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines()
             if line.startswith("mlpipe: ") and "dashboard" not in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "mlpipe: step 'train' asks for --kernel no-such-kernel, but no kernelspec"
        " 'no-such-kernel' is installed on this machine"
    )
    executed = [p for p in (tmp_path / ".mlpipe" / "runs").glob("*/*.ipynb")
                if p.name != SNAPSHOT_FILE]  # the run's notebook snapshot is no step's
    assert not executed
