"""mlp.log_metric / log_metrics in a live kernel (this process), and bad metrics' lines."""

from __future__ import annotations

import math

import pytest


def test_log_metric_in_the_live_kernel():
    import mlpipe_jupyter as mlp
    from mlpipe_jupyter.experiments import metrics

    metrics.begin(None)
    assert mlp.log_metric("auc", 0.9) == 0.9
    assert mlp.log_metrics({"f1": 1, "loss": 0.25}, step=3) == {"f1": 1.0, "loss": 0.25}
    assert metrics.logged() == {"auc": 0.9, "f1": 1.0, "loss": 0.25}


@pytest.mark.parametrize(("value", "words"), [
    (math.nan, "metric 'auc' is nan, not a finite number"),
    ([0.1, 0.2], "metric 'auc' is a list, not a number"),
    ("0.9", "metric 'auc' is a str, not a number"),
])
def test_a_bad_metric_is_one_line_naming_the_step_and_metric(value, words):
    from mlpipe_jupyter.errors import BadInput
    from mlpipe_jupyter.experiments import metrics

    metrics.begin("evaluate")
    with pytest.raises(BadInput) as caught:
        metrics.log_metric("auc", value)
    message = str(caught.value)
    assert message.startswith("step 'evaluate': ") and words in message
    assert "\n" not in message
    metrics.begin(None)


def test_numpy_scalars_are_metrics_and_arrays_are_not():
    np = pytest.importorskip("numpy")
    from mlpipe_jupyter.experiments.metrics import BadMetric, check

    assert check("acc", np.float32(0.5)) == 0.5
    assert check("n", np.int64(3)) == 3.0
    with pytest.raises(BadMetric, match=r"is a ndarray of shape \(2,\), not a number"):
        check("acc", np.array([0.5, 0.6]), "train")


def test_the_metrics_option_is_parsed():
    from mlpipe_jupyter.analysis.options import StepLineError, parse_step_line

    name, options = parse_step_line("evaluate --metrics auc f1 --retries 1")
    assert (name, options.metrics, options.retries) == ("evaluate", ("auc", "f1"), 1)
    with pytest.raises(StepLineError, match="--metrics needs at least one name"):
        parse_step_line("evaluate --metrics")


def test_step_magic_metrics_option_in_the_live_kernel(ip, tmp_path, monkeypatch):
    from mlpipe_jupyter.experiments import metrics

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "store"))
    result = ip.run_cell("%%step evaluate --metrics auc\nimport mlpipe_jupyter as mlp\n"
                         "auc = 0.75\nmlp.log_metric('loss', 0.5)")
    assert result.success, result.error_in_exec
    assert metrics.logged() == {"loss": 0.5, "auc": 0.75}
    result = ip.run_cell("%%step bad --metrics auc\nauc = float('nan')")
    assert not result.success
    assert "step 'bad': metric 'auc' is nan, not a finite number" in str(result.error_in_exec)
