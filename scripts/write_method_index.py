"""Write ``cskd/method_index.json``: each registered method's module, whether it needs a teacher and its options
(``cskd.method_index``), read from the live registry. Run it after adding a method or changing an option:

    python scripts/write_method_index.py

``tests/test_method_index.py`` fails while the index and the registry disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cskd.method_index import INDEX_FILE, index_entry
from cskd.methods import get_method, method_names


def main() -> None:
    table = {}
    for name in method_names():
        cls = get_method(name)
        table[name] = index_entry(cls.__module__, cls.uses_teacher, cls.options())
    INDEX_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {INDEX_FILE}: {len(table)} methods")


if __name__ == "__main__":
    main()
