"""Rule 7 at run time: a function received from an upstream step runs against the
receiving step's globals, as it would in one kernel.

cloudpickle saves a notebook function (one defined in `__main__`) by value, with
a copy of the globals it used where it was defined; loaded as it is, `over(3)`
would see the producing step's `threshold`. `rebind` rebuilds such a function on
the receiving step's namespace, and does the same for the methods of a notebook
class, whether the input is the class or one of its instances (every time: an
instance loaded after its class gives the class its producer's methods again).
"""

from __future__ import annotations

import types
from typing import Any

NOTEBOOK_MODULE = "__main__"


def rebind(value: Any, namespace: dict[str, Any]) -> Any:
    """`value` with its notebook functions looking their globals up in `namespace`."""
    if isinstance(value, types.FunctionType):
        return _member(value, namespace)
    kind = value if isinstance(value, type) else type(value)
    if _from_notebook(kind):
        _rebind_class(kind, namespace)
    return value


def _from_notebook(obj: Any) -> bool:
    return getattr(obj, "__module__", None) == NOTEBOOK_MODULE


def _function(function: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    rebuilt = types.FunctionType(function.__code__, namespace, function.__name__,
                                 function.__defaults__, function.__closure__)
    rebuilt.__kwdefaults__ = function.__kwdefaults__
    rebuilt.__dict__.update(function.__dict__)
    rebuilt.__qualname__ = function.__qualname__
    rebuilt.__annotations__ = function.__annotations__
    rebuilt.__doc__ = function.__doc__
    rebuilt.__module__ = function.__module__
    return rebuilt


def _rebind_class(kind: type, namespace: dict[str, Any]) -> None:
    for klass in kind.__mro__:
        if not _from_notebook(klass):
            continue
        for name, member in list(vars(klass).items()):
            rebuilt = _member(member, namespace)
            if rebuilt is not member:
                setattr(klass, name, rebuilt)


def _member(member: Any, namespace: dict[str, Any]) -> Any:
    if isinstance(member, types.FunctionType):
        bound = member.__globals__ is namespace or not _from_notebook(member)
        return member if bound else _function(member, namespace)
    if isinstance(member, (staticmethod, classmethod)):
        inner = _member(member.__func__, namespace)
        return type(member)(inner) if inner is not member.__func__ else member
    if isinstance(member, property):
        parts = [_member(f, namespace) if f is not None else None
                 for f in (member.fget, member.fset, member.fdel)]
        if any(p is not f for p, f in zip(parts, (member.fget, member.fset, member.fdel))):
            return property(*parts, member.__doc__)
    return member
