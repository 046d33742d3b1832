"""``reports/README.md``: one line per report and per figure in the reports folder, rebuilt from the files.

Each file describes itself, so the index needs no state of its own: a Markdown report by its ``#`` title, a LaTeX
report by its first ``%`` comment, a figure by the title in its PNG metadata (its PDF twin is linked on the same
line); a CSV is the long form of the Markdown report of the same stem (``-paired.csv``: its paired comparisons).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

INDEX_NAME = "README.md"


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().strip()


def describe(path: Path) -> str:
    """The one-line description of a report file or figure."""
    if path.suffix == ".md":
        return _first_line(path).removeprefix("# ")
    if path.suffix == ".tex":
        return _first_line(path).removeprefix("% ")
    if path.suffix == ".csv" and path.stem.endswith("-paired"):
        report = path.stem.removesuffix("-paired")
        return f"the paired comparisons over seeds of {report}.md (one row per pair, comparison and metric)"
    if path.suffix == ".csv":
        return f"the cells of {path.stem}.md in long form (one row per pair, method and metric; raw numbers)"
    if path.suffix == ".png":
        with Image.open(path) as image:
            return image.info.get("Title", path.stem)
    return "not written by `cskd report`"


def _link(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return f"[{relative}]({relative})"


def write_index(reports_dir: Path) -> Path:
    """Rewrite ``reports_dir/README.md`` listing every report and figure found there."""
    reports = sorted(p for p in reports_dir.iterdir() if p.is_file() and p.name != INDEX_NAME)
    order = {".md": 0, ".tex": 1, ".csv": 2}
    reports.sort(key=lambda p: (p.stem.removesuffix("-paired"), order.get(p.suffix, 3), p.name))
    figures = sorted(p for p in reports_dir.rglob("*.png") if p.parent != reports_dir)
    lines = [
        "# Reports",
        "",
        "Written by `cskd report SUITE`, which rewrites this index; one line per file.",
        "",
        "## Tables",
        "",
    ]
    lines += [f"- {_link(p, reports_dir)}: {describe(p)}" for p in reports] or ["(none yet)"]
    lines += ["", "## Figures", ""]
    for png in figures:
        pdf = png.with_suffix(".pdf")
        twin = f" ([pdf]({pdf.relative_to(reports_dir).as_posix()}))" if pdf.is_file() else ""
        lines.append(f"- {_link(png, reports_dir)}{twin}: {describe(png)}")
    if not figures:
        lines.append("(none yet)")
    index = reports_dir / INDEX_NAME
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index
