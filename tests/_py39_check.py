"""Check that a package's sources run on CPython 3.9 (used by test_package.py).

Usage: ``python _py39_check.py PACKAGE_DIR``; prints each problem and exits 1
when there is one, else prints how many files it checked.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _annotations(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            yield from (
                x.annotation
                for x in a.posonlyargs + a.args + a.kwonlyargs
                if x.annotation is not None
            )
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def problems_in(pkg_dir: Path) -> tuple[int, list[str]]:
    """Every construct newer than Python 3.9 in ``pkg_dir``'s sources."""
    problems = []
    for path in sorted(pkg_dir.rglob("*.py")):
        src = path.read_text(encoding="utf-8")
        rel = path.relative_to(pkg_dir).as_posix()
        try:
            tree = ast.parse(src, filename=rel, feature_version=(3, 9))
        except SyntaxError as exc:
            problems.append(f"{rel}:{exc.lineno}: syntax newer than Python 3.9 ({exc.msg})")
            continue
        lazy = "from __future__ import annotations" in src
        for ann in _annotations(tree):
            for n in ast.walk(ann):
                if not lazy and isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
                    problems.append(
                        f"{rel}:{ann.lineno}: `X | Y` annotation needs "
                        "`from __future__ import annotations` on 3.9"
                    )
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("isinstance", "issubclass")
                and len(node.args) == 2
                and isinstance(node.args[1], ast.BinOp)
            ):
                problems.append(f"{rel}:{node.lineno}: isinstance with `X | Y` needs 3.10")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "zip"
                and any(k.arg == "strict" for k in node.keywords)
            ):
                problems.append(f"{rel}:{node.lineno}: zip(strict=...) needs 3.10")
    return len(list(pkg_dir.rglob("*.py"))), problems


def main() -> int:
    n, problems = problems_in(Path(sys.argv[1]))
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"checked {n} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
