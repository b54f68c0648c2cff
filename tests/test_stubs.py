"""The hand-written stub ``python/embedrs/_embedrs.pyi`` matches the compiled extension.

The stub is parsed with :mod:`ast` (nothing in it is hard-coded here), so the check
follows the extension as its API changes: every public name is in both, classes are
classes and functions are functions, every stub base class is a base of the real
class, and each callable has the same parameters (names, order, kind and whether
they have a default) as the extension reports through ``__text_signature__``.

mypy's ``stubtest`` would do this too but needs mypy installed and a built, installed
package; this test runs wherever the extension imports and lists every mismatch at once.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path
from typing import Any

import embedrs
from embedrs import _embedrs

STUB = Path(embedrs.__file__).with_name("_embedrs.pyi")

# stub parameter kinds in inspect's terms
_POS_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POS_OR_KW = inspect.Parameter.POSITIONAL_OR_KEYWORD
_VAR_POS = inspect.Parameter.VAR_POSITIONAL
_KW_ONLY = inspect.Parameter.KEYWORD_ONLY
_VAR_KW = inspect.Parameter.VAR_KEYWORD

Param = tuple[str, Any, bool]  # (name, kind, has a default)


def _stub_params(fn: ast.FunctionDef, method: bool) -> list[Param]:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults = [False] * (len(positional) - len(a.defaults)) + [True] * len(a.defaults)
    params: list[Param] = [
        (arg.arg, _POS_ONLY if i < len(a.posonlyargs) else _POS_OR_KW, d)
        for i, (arg, d) in enumerate(zip(positional, defaults))
    ]
    if a.vararg:
        params.append((a.vararg.arg, _VAR_POS, False))
    params += [(arg.arg, _KW_ONLY, d is not None) for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        params.append((a.kwarg.arg, _VAR_KW, False))
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not is_static and params:
        params = params[1:]  # self / cls
    return params


def _real_params(obj: Any, method: bool) -> list[Param] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None  # no __text_signature__ (e.g. slot wrappers of a class without #[new])
    params = [
        (p.name, p.kind, p.default is not inspect.Parameter.empty) for p in sig.parameters.values()
    ]
    if method and params and params[0][0] in ("self", "cls", "$self", "$cls"):
        params = params[1:]
    return params


def _fmt(params: list[Param]) -> str:
    out = []
    for name, kind, default in params:
        prefix = {_VAR_POS: "*", _VAR_KW: "**"}.get(kind, "")
        suffix = {_POS_ONLY: " (positional-only)", _KW_ONLY: " (keyword-only)"}.get(kind, "")
        out.append(f"{prefix}{name}{'=...' if default else ''}{suffix}")
    return "(" + ", ".join(out) + ")"


def _compare_callable(
    where: str, fn: ast.FunctionDef, real: Any, method: bool, problems: list[str]
) -> None:
    if not callable(real):
        problems.append(
            f"{where}: a function in the stub, a {type(real).__name__} in the extension"
        )
        return
    stub = _stub_params(fn, method)
    actual = _real_params(real, method)
    if actual is None:
        if stub:
            problems.append(
                f"{where}: the extension exposes no signature; the stub has {_fmt(stub)}"
            )
        return
    if stub != actual:
        problems.append(f"{where}: stub {_fmt(stub)} != extension {_fmt(actual)}")


def _is_public(name: str) -> bool:
    """Names the stub must describe: everything but dunders (``_selftest_panic`` included)."""
    return not (name.startswith("__") and name.endswith("__"))


def _module_names(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level names the stub declares (imports excluded)."""
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            # private type aliases (``_Alias: TypeAlias = ...``) exist only in the stub
            if not node.target.id.startswith("_"):
                names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                # private type aliases (``_Alias = Callable[...]``) exist only in the stub
                if isinstance(t, ast.Name) and not t.id.startswith("_"):
                    names[t.id] = node
    return names


def _compare_class(name: str, node: ast.ClassDef, cls: Any, problems: list[str]) -> None:
    if not isinstance(cls, type):
        problems.append(f"{name}: a class in the stub, a {type(cls).__name__} in the extension")
        return
    for base in node.bases:
        base_name = ast.unparse(base)
        real_base = getattr(_embedrs, base_name, getattr(builtins, base_name, None))
        if not isinstance(real_base, type) or not issubclass(cls, real_base):
            problems.append(f"{name}: the stub derives it from {base_name}, the extension does not")
    members: dict[str, ast.AST] = {}
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AnnAssign)):
            key = item.name if isinstance(item, ast.FunctionDef) else ast.unparse(item.target)
            members[key] = item
    own = {k for k in vars(cls) if _is_public(k)}
    for missing in sorted(own - set(members)):
        problems.append(f"{name}.{missing}: in the extension, missing from the stub")
    for key, item in members.items():
        where = f"{name}.{key}"
        if key == "__init__":
            # pyo3's #[new] puts the constructor's text signature on the class itself
            _compare_callable(where, item, cls, method=True, problems=problems)  # type: ignore[arg-type]
            continue
        if not hasattr(cls, key):
            problems.append(f"{where}: in the stub, missing from the extension")
            continue
        real = inspect.getattr_static(cls, key)
        is_property = isinstance(item, ast.FunctionDef) and any(
            ast.unparse(d).endswith("property") for d in item.decorator_list
        )
        if is_property or isinstance(item, ast.AnnAssign):
            if inspect.isroutine(real):
                problems.append(f"{where}: an attribute in the stub, a method in the extension")
            continue
        if not inspect.isroutine(real) and not callable(real):
            problems.append(
                f"{where}: a method in the stub, a {type(real).__name__} in the extension"
            )
            continue
        if key.startswith("__"):
            continue  # slot wrappers (__len__, ...) have fixed, self-only signatures
        _compare_callable(where, item, getattr(cls, key), method=True, problems=problems)  # type: ignore[arg-type]


def stub_mismatches() -> list[str]:
    """Every difference between the stub and the extension, one line each."""
    stub = _module_names(ast.parse(STUB.read_text(encoding="utf8"), filename=str(STUB)))
    problems: list[str] = []
    real_names = {n for n in dir(_embedrs) if _is_public(n)}
    for missing in sorted(real_names - set(stub)):
        problems.append(f"{missing}: in the extension, missing from the stub")
    for name, node in stub.items():
        if not hasattr(_embedrs, name):
            problems.append(f"{name}: in the stub, missing from the extension")
            continue
        real = getattr(_embedrs, name)
        if isinstance(node, ast.ClassDef):
            _compare_class(name, node, real, problems)
        elif isinstance(node, ast.FunctionDef):
            _compare_callable(name, node, real, method=False, problems=problems)
        elif inspect.isroutine(real) or isinstance(real, type):
            problems.append(
                f"{name}: a variable in the stub, a {type(real).__name__} in the extension"
            )
    return problems


def test_stub_matches_extension() -> None:
    problems = stub_mismatches()
    assert not problems, f"{STUB.name} differs from the extension:\n  " + "\n  ".join(problems)


def test_stub_check_reports_every_mismatch(tmp_path, monkeypatch) -> None:
    """The check is not vacuous: a stub with a renamed parameter, a missing function and
    an extra class fails, and the message names all three."""
    tree = ast.parse(STUB.read_text(encoding="utf8"))
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.args.args]
    assert len(funcs) >= 2, "the stub declares fewer than two functions with parameters"
    renamed, dropped = funcs[0], funcs[-1]
    old_param = renamed.args.args[0].arg
    renamed.args.args[0].arg = old_param + "_renamed"
    tree.body.remove(dropped)
    tree.body.append(ast.parse("class NotInTheExtension: ...").body[0])
    fake = tmp_path / "_embedrs.pyi"
    fake.write_text(ast.unparse(tree), encoding="utf8")
    monkeypatch.setitem(globals(), "STUB", fake)
    problems = "\n".join(stub_mismatches())
    assert f"{renamed.name}: stub ({old_param}_renamed" in problems
    assert f"{dropped.name}: in the extension, missing from the stub" in problems
    assert "NotInTheExtension: in the stub, missing from the extension" in problems
    assert len(stub_mismatches()) == 3
