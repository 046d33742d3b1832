"""The shipped method index (cskd/method_index.json) against the live registry of cskd.methods."""

from __future__ import annotations

import json

import pytest

from cskd import method_index
from cskd.method_index import MethodOptionError, UnknownMethodError, index_entry, method_info
from cskd.methods import get_method, method_names


def test_index_is_the_live_registry():
    """Every registered method with its module, teacher need and options (defaults as written), and no other."""
    live = {
        name: index_entry(get_method(name).__module__, get_method(name).uses_teacher, get_method(name).options())
        for name in method_names()
    }
    assert json.loads(method_index.INDEX_FILE.read_text()) == live, "run scripts/write_method_index.py"


def test_defaults_and_types_read_back_as_the_registry_has_them():
    """A tuple stays a tuple, 4.0 a float, None None; each annotation resolves to the class's own type."""
    assert method_index.indexed_method_names() == method_names()
    for name in method_names():
        cls, info = get_method(name), method_info(name)
        assert info.uses_teacher == cls.uses_teacher
        for indexed, live in zip(info.options, cls.options(), strict=True):
            assert (indexed.name, indexed.annotation) == (live.name, live.annotation)
            assert indexed.default == live.default and type(indexed.default) is type(live.default), (name, live.name)
        assert info.option_types() == cls.option_types(), name


def test_checks_match_the_methods_own():
    info = method_info("cskd")
    info.check_options({"intra": False, "alpha": 0.5})
    with pytest.raises(MethodOptionError, match="option 'intra' of method 'cskd'"):
        info.check_options({"intra": "no"})
    with pytest.raises(UnknownMethodError, match=r"method 'kd' has no option 'temprature'.*temperature"):
        method_info("kd").check_options({"temprature": 4.0})
    with pytest.raises(UnknownMethodError, match=r"unknown method 'kdd'.*kd"):
        method_info("kdd")
