"""No absolute path of the machine that ran a suite in a report: recorded text (a data source, an error message) is
shown with every absolute path replaced by its last component, and " at PATH" (how data sources say where their
files were) dropped, so "CIFAR-10 JPEG copy (...) at /home/me/data/cifar10-jpeg; stratified subset ..." reads
"CIFAR-10 JPEG copy (...); stratified subset ...". Relative paths are kept: they name nothing outside the project.
"""

from __future__ import annotations

import re

#: an absolute POSIX (``/a/b``, ``~/a``) or Windows (``C:\\a``) path: at the start, or after whitespace, ``:``, ``=``,
#: a quote or an opening bracket; a separator, then at least one name; it ends at whitespace, ``;``, ``,`` or a bracket
_ABSOLUTE = r"(?:^|(?<=[\s:=(\[\"']))(?:~|[A-Za-z]:)?[/\\](?:[^\s;,()\[\]/\\]+[/\\]?)+"
_AT_PATH = re.compile(r" at " + _ABSOLUTE)
_PATH = re.compile(_ABSOLUTE)


def _last_component(match: re.Match[str]) -> str:
    return re.split(r"[/\\]", match[0].rstrip("/\\"))[-1]


def without_paths(text: str) -> str:
    """``text`` with its absolute paths reduced to their last component (" at PATH" dropped)."""
    return _PATH.sub(_last_component, _AT_PATH.sub("", text))
