"""A real notebook's setup is preloaded in the pooled kernels (issue 27, item 3).

A magic line first (`%matplotlib inline`) made the setup fail to parse, so the fork
server preloaded nothing and every step paid `import statsmodels.api` again."""

from __future__ import annotations

import json
from pathlib import Path

from mlpipe_jupyter.execute import kernels
from mlpipe_jupyter.execute.warm import setup_modules

SETUP = """%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt
import statsmodels.api as sm
import seaborn as sns
from sklearn import datasets
sns.set_theme()"""

PROBE = ("import sys, json, matplotlib\n"
         "print(json.dumps({m: m in sys.modules for m in ('statsmodels.api', 'seaborn',"
         " 'sklearn.datasets', 'matplotlib.pyplot')} | {'backend': matplotlib.get_backend(),"
         " 'names': sorted(n for n in globals() if not n.startswith('_'))}))")


def test_the_setup_is_loaded_before_the_step_runs(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    warm = setup_modules(SETUP)
    assert {"statsmodels.api", "seaborn", "sklearn.datasets", "matplotlib.pyplot"} <= set(warm)
    pool = kernels.KernelPool(str(tmp_path), size=1, warm=warm)
    try:
        km = pool.take()
        assert km.__dict__.get("_mlpipe_forkserver") is not None  # forked from the server
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
        NotebookClient(nb, km=km, timeout=60).execute()
        seen = json.loads(nb.cells[0].outputs[0]["text"])
        kernels.retire(km)
    finally:
        pool.close()
    assert not {"np", "plt", "sm", "sns", "datasets"} & set(seen.pop("names"))  # none bound
    assert seen == {"statsmodels.api": True, "seaborn": True, "sklearn.datasets": True,
                    "matplotlib.pyplot": True,
                    "backend": "module://matplotlib_inline.backend_inline"}
