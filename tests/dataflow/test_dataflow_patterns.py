"""Rules 5-7 end to end: every step prints the same in the pipeline as top to bottom.

Each case is a pattern from issue 9 (or a variant of one) that used to give the
pipeline other values than the notebook, or refuse a valid notebook. What the
steps print is compared, and the value the notebook prints is written down too,
so that a case cannot pass by both runs being wrong the same way.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

SETUP = ("import random\nimport numpy as np\nimport pandas as pd\n\n"
         "def doubled():\n    return base * 2")

CASES = {
    # rule 6: a method call in an expression is a new version of its receiver
    "generator_drawn_inside_an_expression": (
        ["%%step a\nrng = np.random.RandomState(0)", "%%step b\nfirst = rng.randint(1000)",
         "%%step c\nprint(rng.randint(1000))"],
        {"c": "559\n"}),
    "pop_inside_arithmetic": (
        ["%%step a\nqueue = [1, 2, 3]", "%%step b\nhead = queue.pop(0) * 10",
         "%%step c\nprint(queue, head)"],
        {"c": "[2, 3] 10\n"}),
    "pop_inside_a_call_and_an_fstring": (
        ["%%step a\nitems = [1, 2, 3]", "%%step b\nprint(f'{items.pop()}')",
         "%%step c\nprint(len(items))"],
        {"b": "3\n", "c": "2\n"}),
    # rule 6: mutation through an argument
    "shuffle_through_an_argument": (
        ["%%step a\ndeck = list(range(6))", "%%step b\nrandom.Random(0).shuffle(deck)",
         "%%step c\nprint(deck)"],
        {"c": "[4, 2, 1, 0, 5, 3]\n"}),
    "inplace_drop": (
        ["%%step a\ndf = pd.DataFrame({'a': [1], 'b': [2]})",
         "%%step b\ndf.drop(columns=['b'], inplace=True)", "%%step c\nprint(list(df.columns))"],
        {"c": "['a']\n"}),
    # rule 7: free names resolve where the function is called
    "free_name_bound_only_by_a_later_step": (
        ["%%step a\ndef kind(o):\n    return isinstance(o, Widget)",
         "%%step b\nclass Widget:\n    pass\nprint(kind(Widget()))"],
        {"b": "True\n"}),
    "caller_rebinds_the_free_name": (
        ["%%step a\nthreshold = 1\ndef over(x):\n    return x > threshold",
         "%%step b\nthreshold = 5\nprint(over(3))", "%%step c\nprint(over(3), over(9))"],
        {"b": "False\n", "c": "False True\n"}),
    "transitive_and_passed_to_map": (
        ["%%step a\ndef scale(v):\n    return v * factor\n"
         "def total(xs):\n    return sum(map(scale, xs))",
         "%%step b\nfactor = 3", "%%step c\nprint(total([1, 2]))"],
        {"c": "9\n"}),
    "a_called_function_mutates_a_global": (
        ["%%step a\nqueue = [1, 2, 3]\ndef take():\n    return queue.pop(0)",
         "%%step b\nfirst = take()", "%%step c\nprint(first, queue)"],
        {"c": "1 [2, 3]\n"}),
    "methods_of_an_upstream_class_and_instance": (
        ["%%step a\nclass Greeter:\n    def hi(self):\n        return greeting",
         "%%step b\ngreeting = 'hello'\ng = Greeter()",
         "%%step c\ngreeting = 'hey'\nprint(Greeter().hi(), g.hi())"],
        {"c": "hey hey\n"}),
    "setup_function_reads_a_step_bound_name": (
        ["%%step a\nbase = 21", "%%step b\nprint(doubled())"],
        {"b": "42\n"}),
    "function_passed_to_apply": (
        ["%%step a\nthreshold = 9\ndef over(x):\n    return x > threshold",
         "%%step b\nthreshold = 2\ndf = pd.DataFrame({'v': [1, 2, 3]})\n"
         "print(df['v'].apply(over).tolist())"],
        {"b": "[False, False, True]\n"}),
    "a_function_that_changes_its_argument": (
        ["%%step a\ndef clean(frame):\n    frame.dropna(inplace=True)",
         "%%step b\ndf = pd.DataFrame({'a': [1.0, None, 3.0]})", "%%step c\nclean(df)",
         "%%step d\nprint(len(df))"],
        {"d": "2\n"}),
    # a method the analysis takes for read-only that changes its receiver: rule 10's check
    "read_only_named_method_that_mutates": (
        ["%%step a\nclass Acc:\n    def __init__(self):\n        self.n = 0\n"
         "    def transform(self, v):\n        self.n += v\n        return self.n\nacc = Acc()",
         "%%step b\nr = acc.transform(5)", "%%step c\nprint(acc.n)"],
        {"c": "5\n"}),
    # rule 5: `%` at the start of a continuation line is Python
    "percent_and_bang_on_continuation_lines": (
        ["%%step a\nn = 3\nx = 4", '%%step b\nmsg = ("%d items"\n % n)\nok = (x\n != 2)',
         "%%step c\nprint(msg, ok)"],
        {"c": "3 items True\n"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_pipeline_prints_what_the_notebook_prints(compare, name: str) -> None:  # noqa: ANN001
    cells, wanted = CASES[name]
    printed = compare([SETUP, *cells])
    for step, text in wanted.items():
        assert printed.notebook[step] == text, (step, printed.notebook)
    assert printed.pipeline == printed.notebook
