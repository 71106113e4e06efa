"""Rule 7 at run time, in one process: a notebook function loaded from an upstream
step's pickle is rebuilt on the receiving step's globals (compile/latebind.py)."""

from __future__ import annotations

import pickle

import cloudpickle

from mlpipe_jupyter.compile.latebind import rebind

PRODUCER = """
threshold = 1
def over(x, *, strict=True):
    return x > threshold if strict else x >= threshold
over.tag = "t"
class Greeter:
    def hi(self):
        return greeting
    @staticmethod
    def loud():
        return greeting.upper()
greeting = "hello"
made = (over, Greeter, Greeter())
"""


def produced() -> tuple:
    namespace: dict = {"__name__": "__main__"}
    exec(PRODUCER, namespace)  # noqa: S102 - a notebook cell, as a kernel runs it
    return pickle.loads(cloudpickle.dumps(namespace["made"]))


def test_a_loaded_function_sees_the_receiving_steps_globals() -> None:
    over, _, _ = produced()
    assert over(3) is True  # the producer's threshold travelled with it
    step = {"threshold": 5}
    rebound = rebind(over, step)
    assert rebound(3) is False and rebound(3, strict=False) is False and rebound(9) is True
    assert (rebound.__name__, rebound.__qualname__, rebound.tag) == ("over", "over", "t")


def test_methods_of_a_loaded_class_and_instance_see_the_receiving_steps_globals() -> None:
    _, greeter, instance = produced()
    step = {"greeting": "hey"}
    rebind(greeter, step)
    rebind(instance, step)
    assert greeter().hi() == "hey" and instance.hi() == "hey" and greeter.loud() == "HEY"


def test_values_that_are_not_notebook_code_are_left_alone() -> None:
    import math

    step: dict = {}
    assert rebind(math.sqrt, step) is math.sqrt
    assert rebind([1, 2], step) == [1, 2]
    assert rebind(len, step) is len
