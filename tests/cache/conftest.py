from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis.model import Pipeline

from keyed_pipeline import make_pipeline


@pytest.fixture
def pipeline() -> Pipeline:
    return make_pipeline()
