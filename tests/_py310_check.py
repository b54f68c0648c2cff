"""Check that a package's sources parse on CPython 3.10 (used by test_package.py).

The wheel is abi3 for CPython 3.10 and newer, so its Python sources must not
use syntax of later versions (``except*``, PEP 695 type parameters, nested
quotes in f-strings). Usage: ``python _py310_check.py PACKAGE_DIR``; prints
each problem and exits 1 when there is one, else prints how many files it
checked.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def problems_in(pkg_dir: Path) -> tuple[int, list[str]]:
    """Every syntax construct newer than Python 3.10 in ``pkg_dir``'s sources."""
    problems = []
    paths = sorted(pkg_dir.rglob("*.py"))
    for path in paths:
        src = path.read_text(encoding="utf-8")
        rel = path.relative_to(pkg_dir).as_posix()
        try:
            ast.parse(src, filename=rel, feature_version=(3, 10))
        except SyntaxError as exc:
            problems.append(f"{rel}:{exc.lineno}: syntax newer than Python 3.10 ({exc.msg})")
    return len(paths), problems


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
