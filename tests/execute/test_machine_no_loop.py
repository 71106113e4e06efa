"""Verification never loops, fails or skips a step (issue 21): a re-run it would repeat, or
one past MAX_RERUNS, is a warning naming the value."""

from __future__ import annotations

from machine_script import make, ok

from mlpipe_jupyter.execute.events import (
    Decided,
    DecideNow,
    Finished,
    FinishRun,
    MarkFailed,
    Skip,
    Submit,
    Warn,
)
from mlpipe_jupyter.execute.machine import MAX_RERUNS, RunMachine


def drive(machine: RunMachine, report, also_saved: tuple[str, ...] = ()  # noqa: ANN001
          ) -> tuple[list[object], dict[str, int]]:
    """Answer every submit with a success carrying `report(step)` until the run finishes."""
    actions = list(machine.start())
    seen: list[object] = []
    runs: dict[str, int] = {}
    for _ in range(500):
        if not actions:
            break
        action = actions.pop(0)
        seen.append(action)
        if isinstance(action, Submit):
            runs[action.step] = runs.get(action.step, 0) + 1
            _, step, _, rep, saved = ok(action.step, **report(action.step))
            actions.extend(machine.handle(Finished(
                step, action.attempt, True, report=rep, saved=machine.outputs(step) + also_saved)))
        elif isinstance(action, DecideNow):
            actions.extend(machine.handle(Decided(action.step, False)))
    assert machine.finished is not None, "the run did not finish"
    return seen, runs


def test_a_helper_every_step_seems_to_change_never_loops_nor_fails() -> None:
    """Six steps call a helper from `a`; each reports it changed (pickle bytes that vary):
    the run succeeds, no step re-runs more than MAX_RERUNS times, warnings name it."""
    names = "a b c d e f g"
    readers = names.split()[1:]
    machine = make(names, " ".join(f"a>{r}" for r in readers),
                   inputs={r: {"beanplot": "a"} for r in readers})
    seen, runs = drive(machine, lambda s: {"inputs_changed": ("beanplot",)} if s != "a" else {})
    assert not [a for a in seen if isinstance(a, (MarkFailed, Skip))]
    assert [a.status.value for a in seen if isinstance(a, FinishRun)] == ["succeeded"]
    assert max(runs.values()) <= len(readers)  # bounded: each dependency is acted on once
    warnings = [a.message for a in seen if isinstance(a, Warn)]
    assert all("beanplot" in w for w in warnings), warnings


def test_random_state_drawn_by_many_steps_never_fails_a_step() -> None:
    names = "a b c d e f g h"
    machine = make(names, carried="numpy")
    seen, runs = drive(machine, lambda s: {"random": ("numpy",)}, ("random:numpy",))
    assert not [a for a in seen if isinstance(a, (MarkFailed, Skip))]
    assert [a.status.value for a in seen if isinstance(a, FinishRun)] == ["succeeded"]
    assert max(runs.values()) <= len(names.split())  # bounded, never "giving up"


def test_the_same_reason_twice_is_a_warning_not_a_second_rerun() -> None:
    machine = make("a b")
    machine.start()
    slot = machine.slots["b"]
    slot.status = slot.status.SUCCEEDED
    first: list[object] = []
    machine._rerun("b", "re-run: draws from random:numpy after a", first)
    assert not [a for a in first if isinstance(a, Warn)]
    machine.slots["b"].status = slot.status.SUCCEEDED
    again: list[object] = []
    machine._rerun("b", "re-run: draws from random:numpy after a", again)
    assert [a.message for a in again if isinstance(a, Warn)] == [
        "step 'b' draws from random:numpy after a again after re-running for it; not re-run a"
        " second time (its values may differ from a top-to-bottom run's)"]
    assert machine.slots["b"].status.value == "succeeded"


def test_an_input_its_rewired_producer_did_not_save_comes_from_where_that_step_read_it() -> None:
    """The 'run None: KeyError: arma_mod30' runs: `c` was found to change `arma_mod30` (read
    from `b`), `d` was rewired to read it from `c`; `c` re-ran and left it as it got it, so
    saved nothing: `d` gets `b`'s (the same value), and a value nobody saved fails `d` with
    a line naming it, never the run."""
    import pytest

    from mlpipe_jupyter.execute.coordinator import Coordinator, MissingInput

    machine = make("b c d", "b>c b>d", inputs={"c": {"arma_mod30": "b"},
                                             "d": {"arma_mod30": "b", "x": "b"}})
    machine.producers["d"]["arma_mod30"] = "c"
    coordinator = Coordinator.__new__(Coordinator)
    coordinator.machine = machine
    coordinator.outputs = {"b": {"arma_mod30": "ref-b", "x": "ref-x"}, "c": {}}
    assert coordinator._inputs("d") == {"arma_mod30": "ref-b", "x": "ref-x"}
    coordinator.outputs = {"b": {"x": "ref-x"}, "c": {}}
    with pytest.raises(MissingInput, match="step 'd': input 'arma_mod30' from step 'b'"):
        coordinator._inputs("d")


def test_a_crash_while_starting_a_step_fails_that_step_with_its_cause() -> None:
    import pytest

    from mlpipe_jupyter.execute.coordinator import Coordinator
    from mlpipe_jupyter.execute.events import DecideNow, MarkSucceeded

    coordinator = Coordinator.__new__(Coordinator)

    def boom(action):  # noqa: ANN001, ANN202
        raise KeyError("arma_mod30")

    coordinator._do = boom  # type: ignore[method-assign]
    failed = coordinator._do_for_step(Submit("predict", 1))
    assert isinstance(failed, Finished) and not failed.ok
    assert failed.error == "step 'predict': KeyError: 'arma_mod30'"
    decided = coordinator._do_for_step(DecideNow("diag"))
    assert decided.step == "diag" and decided.cached is False
    then = coordinator._do_for_step(Submit("diag", 1))
    assert then.error == "step 'diag': KeyError: 'arma_mod30'"
    with pytest.raises(RuntimeError, match="^step 'fit': KeyError: 'arma_mod30'$"):
        coordinator._do_for_step(MarkSucceeded("fit", 1))
