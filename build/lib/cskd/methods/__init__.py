"""Distillation methods, one module each, found by the registry in :mod:`cskd.methods.base`.

Importing this package imports every module in it, so a new method file registers itself.
"""

import importlib
import pkgutil

from cskd.methods.base import Method, build_method, get_method, method_names, register_method

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Method", "build_method", "get_method", "method_names", "register_method"]
