"""Lines of Python per folder of the package, so growth of the core is a visible design question.

    python scripts/size.py            # ember/ by folder
    python scripts/size.py tests      # another tree
"""

from __future__ import annotations

import pathlib
import sys
from collections import Counter


def count(root: pathlib.Path) -> Counter:
    """Non-blank lines of ``*.py`` files under ``root``, keyed by their folder relative to ``root``."""
    lines: Counter = Counter()
    for path in sorted(root.rglob("*.py")):
        folder = path.parent.relative_to(root).as_posix() or "."
        lines[folder] += sum(1 for line in path.read_text().splitlines() if line.strip())
    return lines


def main(argv: list[str]) -> int:
    root = pathlib.Path(argv[0] if argv else pathlib.Path(__file__).resolve().parent.parent / "ember")
    lines = count(root)
    for folder, n in sorted(lines.items()):
        print(f"{folder:<28}{n:>7}")
    print(f"{'total':<28}{sum(lines.values()):>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
