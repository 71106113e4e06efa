"""Rule 9 and rule 6 at run time, inside the step's kernel.

Hidden random state: `watch()` runs before setup and wraps the seeding
functions (`numpy.random.seed`, `random.seed`, `torch.manual_seed`, ...; a
module not imported yet is wrapped as it loads), so the kernel knows whether
anybody seeded each generator. `begin(cfg, values)` runs after setup, in the
load cell: it installs the start state the plan gives the step (the pseudo
input `random:numpy`, the previous consumer's end state), then snapshots every
generator's state and the fingerprint of every input. `end(cfg, namespace)`
runs in the save cell: a generator whose state the step's code changed is
reported (`StepReport.random`, and `unseeded` where nobody seeded it) and its
end state is saved as the output `random:<generator>`, so a later consumer can
start from it; an input whose value the step changed is reported
(`StepReport.inputs_changed`) and saved again under its name.

A state artifact is `{"generator", "state", "seeded"}`: the seeded flag flows
with the state, as it does top to bottom.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import sys
from dataclasses import dataclass, field
from types import CodeType, FunctionType, ModuleType
from typing import Any, Callable

from mlpipe_jupyter.analysis.ambient import PREFIX as SETTING
from mlpipe_jupyter.analysis.ambient import is_setting
from mlpipe_jupyter.analysis.hidden import PREFIX, is_pseudo, pseudo_name
from mlpipe_jupyter.compile import settings

_WRAPPED = "__mlpipe_seed_hook__"


@dataclass(frozen=True)
class Generator:
    """One global generator: where it lives and how to read, set and seed it."""

    name: str  # "numpy" | "random" | "torch"
    module: str  # the module whose import creates it
    get: Callable[[ModuleType], Any]
    set: Callable[[ModuleType, Any], None]
    seeders: tuple[tuple[str, bool], ...]  # (function, seeds when given an argument)


def _np_set(module: ModuleType, state: Any) -> None:
    _original(module, "set_state")(state)


def _random_set(module: ModuleType, state: Any) -> None:
    _original(module, "setstate")(state)


def _torch_set(module: ModuleType, state: Any) -> None:
    _original(module, "set_rng_state")(state)


GENERATORS: tuple[Generator, ...] = (
    Generator("numpy", "numpy.random", lambda m: m.get_state(), _np_set,
              (("seed", True), ("set_state", True))),
    Generator("random", "random", lambda m: m.getstate(), _random_set,
              (("seed", True), ("setstate", True))),
    Generator("torch", "torch", lambda m: m.get_rng_state(), _torch_set,
              (("manual_seed", True), ("set_rng_state", True), ("seed", False))),
)
_BY_MODULE = {g.module: g for g in GENERATORS}


@dataclass
class _Kernel:
    """This kernel's view of the hidden state (one step runs per kernel)."""

    seeded: dict[str, bool] = field(default_factory=dict)
    start: dict[str, bytes] = field(default_factory=dict)  # generator -> pickled start state
    fingerprints: dict[str, str | None] = field(default_factory=dict)  # input -> at start
    started: bool = False


_KERNEL = _Kernel()


def _original(module: ModuleType, name: str) -> Callable[..., Any]:
    fn = getattr(module, name)
    return getattr(fn, "__wrapped__", fn) if getattr(fn, _WRAPPED, False) else fn


def _hook(module: ModuleType, gen: Generator) -> None:
    """Wrap the generator's seeding functions to note whether it is seeded."""
    for name, deterministic in gen.seeders:
        fn = getattr(module, name, None)
        if fn is None or getattr(fn, _WRAPPED, False):
            continue

        @functools.wraps(fn)
        def seeding(*args: Any, __fn: Any = fn, __det: bool = deterministic,
                    **kwargs: Any) -> Any:
            given = [*args, *kwargs.values()]
            _KERNEL.seeded[gen.name] = __det and bool(given) and given[0] is not None
            return __fn(*args, **kwargs)

        setattr(seeding, _WRAPPED, True)
        setattr(module, name, seeding)
        if _KERNEL.started and gen.name not in _KERNEL.start:  # imported by the step itself
            _KERNEL.start[gen.name] = _pickled(gen.get(module))


class _SeedFinder:
    """Wraps the seeding functions of a generator's module as it loads."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _BY_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _HookingLoader(spec.loader, _BY_MODULE[fullname])
            return spec
        return None


class _HookingLoader:
    def __init__(self, loader: Any, gen: Generator) -> None:
        self.loader = loader
        self.gen = gen

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _hook(module, self.gen)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


def watch() -> None:
    """Before setup: note every seeding of the global generators from now on."""
    import random  # noqa: F401 - always there; cheap

    for gen in GENERATORS:
        module = sys.modules.get(gen.module)
        if module is not None:
            _hook(module, gen)
    if not any(isinstance(f, _SeedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SeedFinder())
    settings.baseline()  # a live kernel's (a step kernel's is taken again after setup)


def _pickled(state: Any) -> bytes:
    return pickle.dumps(state, protocol=4)


def _loaded() -> list[tuple[Generator, ModuleType]]:
    return [(g, sys.modules[g.module]) for g in GENERATORS if g.module in sys.modules]


def begin(cfg: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """After setup: install the planned start states; snapshot states and inputs.

    Returns `values` without the pseudo inputs (what the load cell binds).
    """
    watch()  # a module setup imported without the finder seeing it (pre-imported)
    plain = {var: value for var, value in values.items() if not is_pseudo(var)}
    settings.baseline(force=True)  # after setup: what every step starts from
    flowed: list[str] = []
    for var, artifact in values.items():
        if is_pseudo(var):
            install_state(var, artifact)
            if var == SETTING + "environ" and isinstance(artifact, dict):
                flowed += [*(artifact.get("changed") or {}), *(artifact.get("removed") or ())]
    from . import identity

    identity.after_setup(tuple(flowed))
    _KERNEL.start = {g.name: _pickled(g.get(m)) for g, m in _loaded()}
    _KERNEL.fingerprints = {var: fingerprint(value) for var, value in plain.items()}
    _KERNEL.started = True
    return plain


def _install(name: str, artifact: Any) -> None:
    gen = next((g for g in GENERATORS if g.name == name), None)
    if gen is None or not isinstance(artifact, dict):
        return
    module = sys.modules.get(gen.module)
    if module is None:
        import importlib

        module = importlib.import_module(gen.module)
        _hook(module, gen)
    gen.set(module, artifact["state"])
    _KERNEL.seeded[name] = bool(artifact.get("seeded"))


def _generator(var: str) -> tuple[Generator, ModuleType]:
    import importlib

    name = var[len(PREFIX):] if is_pseudo(var) else var
    gen = next(g for g in GENERATORS if g.name == name)
    module = importlib.import_module(gen.module)
    _hook(module, gen)
    return gen, module


def state_artifact(var: str) -> dict[str, Any]:
    """The value a step saves as `random:GEN`: the generator's state now (for
    `setting:KIND`, the settings steps changed: compile/settings.py)."""
    if is_setting(var):
        return settings.artifact(var[len(SETTING):])
    gen, module = _generator(var)
    return {"generator": gen.name, "state": gen.get(module),
            "seeded": _KERNEL.seeded.get(gen.name, False)}


def install_state(var: str, artifact: Any) -> None:
    """Put a saved `random:GEN` state (or `setting:KIND`) back."""
    if is_setting(var):
        settings.install(var[len(SETTING):], artifact)
        return
    _install(var[len(PREFIX):], artifact)


@dataclass(frozen=True)
class Ending:
    """What `end` found: values to save, and the report's fields."""

    saves: dict[str, Any]  # output name -> value (state artifacts, changed inputs)
    random: tuple[str, ...]
    unseeded: tuple[str, ...]
    inputs_changed: tuple[str, ...]


def end(cfg: dict[str, Any], namespace: dict[str, Any]) -> Ending:
    """After the step's code: changed generators and inputs, and what to save."""
    from . import identity

    identity.freeze()  # what the step loaded, before the saving loads serializers
    wanted = {var[len(PREFIX):] for var in cfg.get("outputs") or ()
              if is_pseudo(var) and not is_setting(var)}
    saves: dict[str, Any] = {var: state_artifact(var) for var in cfg.get("outputs") or ()
                             if is_setting(var)}
    changed: list[str] = []
    for gen, module in _loaded():
        artifact = state_artifact(gen.name)
        if _KERNEL.started and _pickled(artifact["state"]) != _KERNEL.start.get(gen.name):
            changed.append(gen.name)
        if gen.name in changed or gen.name in wanted:
            saves[pseudo_name(gen.name)] = artifact
    unseeded = tuple(g for g in changed if not _KERNEL.seeded.get(g, False))
    inputs_changed = []
    for var, before in _KERNEL.fingerprints.items():
        if var in namespace and before is not None and fingerprint(namespace[var]) != before:
            inputs_changed.append(var)
            saves[var] = namespace[var]
    return Ending(saves, tuple(changed), unseeded, tuple(inputs_changed))


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)


def fingerprint(value: Any) -> str | None:
    """A hash of `value`'s contents, to tell whether a step changed it in place.

    Immutable values get None (nothing to compare); a plain numpy array hashes
    its buffer; anything else its pickle (protocol 5, buffers out of band, so
    big arrays inside are hashed without a copy). None when it cannot be pickled.
    """
    if isinstance(value, _IMMUTABLE) or (
        isinstance(value, (tuple, frozenset)) and all(isinstance(v, _IMMUTABLE) for v in value)
    ):
        return None
    digest = hashlib.sha256()
    if isinstance(value, (FunctionType, type)):  # by identity, never pickle bytes (issue 21)
        digest.update(repr(code_identity(value)).encode())
        return digest.hexdigest()
    np = sys.modules.get("numpy")
    if np is not None and type(value) is np.ndarray and not value.dtype.hasobject:
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).data)
        return digest.hexdigest()

    def buffer(view: pickle.PickleBuffer) -> None:
        try:
            digest.update(view.raw())
        except BufferError:  # not contiguous
            digest.update(memoryview(view).tobytes())

    try:
        import cloudpickle

        digest.update(cloudpickle.dumps(value, protocol=5, buffer_callback=buffer))
    except Exception:  # noqa: BLE001 - an unpicklable input cannot be compared
        return None
    return digest.hexdigest()


def code_identity(value: Any, seen: set[int] | None = None) -> Any:
    """What a function or class is, as DESIGN's rule 10 compares it: its code, defaults,
    closure cells and the identities of the globals it reads (a module by name, a function
    by this same identity, anything else by `id`); a class by its notebook members.

    cloudpickle's bytes of the same function vary from call to call (the submodules
    imported since, the order of its globals), so "changed" must not be read from them."""
    import marshal

    seen = set() if seen is None else seen
    if id(value) in seen:
        return ("cycle", getattr(value, "__qualname__", ""))
    seen.add(id(value))
    if isinstance(value, type):
        members = sorted((k, code_identity(v, seen) if isinstance(v, (FunctionType, type))
                          else _member_identity(v, seen)) for k, v in vars(value).items()
                         if k not in ("__dict__", "__weakref__", "__doc__", "__module__"))
        bases = tuple(b.__qualname__ for b in value.__bases__)
        return ("class", value.__module__, value.__qualname__, bases, tuple(members))
    if not isinstance(value, FunctionType):
        return _member_identity(value, seen)
    code = value.__code__
    cells = tuple(_member_identity(c.cell_contents, seen) if _filled(c) else "<empty>"
                  for c in value.__closure__ or ())
    names = _global_names(code)
    read = tuple((n, _member_identity(value.__globals__[n], seen)) for n in sorted(names)
                 if n in value.__globals__)
    defaults = tuple(_member_identity(d, seen) for d in value.__defaults__ or ())
    kwdefaults = tuple(sorted((k, _member_identity(v, seen))
                              for k, v in (value.__kwdefaults__ or {}).items()))
    return ("function", value.__qualname__, hashlib.sha256(marshal.dumps(code)).hexdigest(),
            defaults, kwdefaults, cells, read)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _global_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _global_names(const)
    return names


def _member_identity(value: Any, seen: set[int]) -> Any:
    if isinstance(value, ModuleType):
        return ("module", value.__name__)
    if isinstance(value, (FunctionType, type)):
        return code_identity(value, seen)
    if isinstance(value, _IMMUTABLE):
        return ("value", repr(value))
    return ("object", type(value).__qualname__, id(value))


_UNBOUND = object()


def save_rest(store: Any, step: str, ending: Ending, namespace: dict[str, Any],
              keep: tuple[str, ...], refs: dict[str, Any]) -> dict[str, Any]:
    """Ref json of what `end` found to save, then, best effort, the names in `keep`.

    `keep` is every name the step binds: saved (when they can be) so that a
    cache hit in the live kernel gives back all of them, not only the outputs.
    """
    from mlpipe_jupyter.cache.store import UnsavableValue

    saved: dict[str, Any] = {}
    for var, value in ending.saves.items():
        if var not in refs:
            try:
                saved[var] = store.put(var, value).to_json()
            except UnsavableValue as exc:
                raise UnsavableValue(exc.var, exc.type_name, exc.reason, step) from None
    for var in keep:
        value = namespace.get(var, _UNBOUND)
        if var in refs or var in saved or ":" in var or value is _UNBOUND \
                or isinstance(value, ModuleType):
            continue
        try:
            saved[var] = store.put(var, value).to_json()
        except Exception:  # noqa: BLE001 - an extra name that cannot be saved is not restored
            continue
    return saved
