"""The method interface and registry.

A method receives the student's and the teacher's :class:`~cskd.features.Features` and the labels, and returns a
dict of named loss terms that are already weighted: the engine back-propagates their sum. A method owns its
adapters (optimised together with the student), any private optimisation (a discriminator and its optimiser, which it
steps itself inside ``forward``), and an optional initialisation stage that the engine runs before main training.

Engine hooks (all generic; a method uses those it needs):
* ``begin_epoch(phase, epoch)`` before every training epoch (schedules over epochs, such as DKD's warm-up);
* ``bind_training_set(labels)`` once after construction and ``seed()``, with the labels of the whole training set
  (CRD's memory bank and its negatives);
* ``needs_sample_indices``: ``forward`` (and ``forward_init``) then receive ``indices=``, each sample's position in
  the training set, from the loader;
* ``student_pre_relu`` / ``teacher_pre_relu``: fill ``Features.pre_relu`` of that network;
* ``init_epochs`` and ``init_lr``: length and learning rate of the initialisation stage.
State that must survive a restart lives in the module's parameters and buffers (``state_dict``) and in ``rng``, which
the engine checkpoints after every epoch and restores on resume.

Adding a method is one new module in ``cskd/methods`` that subclasses :class:`Method` under ``@register_method``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.method_index import MethodOption, UnknownMethodError, check_option_values
from cskd.method_index import MethodOptionError as MethodOptionError  # raised by check_options, imported from here
from cskd.names import close_names

_REGISTRY: dict[str, type[Method]] = {}


def register_method(name: str):
    """Class decorator: make a :class:`Method` subclass available under ``name``."""

    def decorate(cls: type[Method]) -> type[Method]:
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} is registered twice ({_REGISTRY[name].__module__}, {cls.__module__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def method_names() -> list[str]:
    return sorted(_REGISTRY)


def get_method(name: str) -> type[Method]:
    """The registered class for ``name``; an unknown name raises with the closest names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r} ({close_names(name, method_names())})") from None


class Method(nn.Module):
    """Base class of every distillation method (and of plain cross-entropy).

    Subclasses declare their hyper-parameters as keyword-only ``__init__`` arguments with defaults and document each
    in ``option_help`` (meaning and source of the default). ``forward`` returns already-weighted loss terms.
    """

    name: ClassVar[str] = ""
    #: whether the method needs a teacher at all (``ce`` does not)
    uses_teacher: ClassVar[bool] = True
    #: whether ``Features.pre_relu`` must be filled for the student / for the teacher (instances may override)
    student_pre_relu: bool = False
    teacher_pre_relu: bool = False
    #: whether ``forward`` / ``forward_init`` take ``indices=``: each sample's index in the training set
    needs_sample_indices: ClassVar[bool] = False
    #: option name -> one line: meaning, and where its default comes from
    option_help: ClassVar[dict[str, str]] = {}

    def __init__(self, student: FeatureSpec, teacher: FeatureSpec | None) -> None:
        super().__init__()
        if self.uses_teacher and teacher is None:
            raise ValueError(f"method {self.name!r} needs a teacher")
        self.student_spec = student
        self.teacher_spec = teacher
        #: epochs of the initialisation stage run before main training (0: none)
        self.init_epochs = 0
        #: learning rate of the initialisation stage (None: the recipe's base learning rate)
        self.init_lr: float | None = None
        #: the method's own random stream (Gumbel noise, negatives, ...), seeded by the engine so runs are repeatable
        self.rng = torch.Generator()
        #: the training phase ("init" or "main") and its 1-based epoch, set by ``begin_epoch``; None before
        self.phase: str | None = None
        self.epoch: int | None = None

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError(f"method {self.name!r} does not implement forward")

    def forward_init(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        """Loss terms of the initialisation stage (only called when ``init_epochs > 0``)."""
        raise NotImplementedError(f"method {self.name!r} has no initialisation stage")

    def begin_epoch(self, phase: str, epoch: int) -> None:
        """Called by the engine before each training epoch: ``phase`` "init" or "main", ``epoch`` 1-based in it."""
        self.phase, self.epoch = phase, epoch

    def current_epoch(self) -> int:
        """The 1-based epoch set by ``begin_epoch``, or a clear error when it was never called."""
        if self.epoch is None:
            raise RuntimeError(
                f"method {self.name!r} schedules its loss over epochs: call begin_epoch(phase, epoch) before forward "
                "(the engine does)"
            )
        return self.epoch

    def bind_training_set(self, labels: Tensor) -> None:
        """Called by the engine once, after ``seed``, with the ``[N]`` labels of the training set (index i = sample
        i of the loader). Methods that keep per-sample state override it; the default needs nothing."""

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters optimised together with the student (adapters). Private modules are excluded by overriding."""
        return self.parameters()

    def seed(self, seed: int) -> None:
        self.rng.manual_seed(seed)

    @classmethod
    def options(cls) -> list[MethodOption]:
        """The keyword-only constructor arguments: the method's hyper-parameters with their defaults."""
        params = inspect.signature(cls.__init__).parameters.values()
        return [
            MethodOption(p.name, p.default, str(p.annotation), cls.option_help.get(p.name, ""))
            for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]

    @classmethod
    def option_types(cls) -> dict[str, Any]:
        """The annotation of each option (keyword-only constructor argument), resolved to a type."""
        hints = typing.get_type_hints(cls.__init__)
        return {o.name: hints[o.name] for o in cls.options()}

    @classmethod
    def check_options(cls, args: dict[str, Any]) -> None:
        """Raise :class:`UnknownMethodError` naming the closest options when ``args`` holds an unknown name, and
        :class:`MethodOptionError` when a value does not have its option's annotated type (``intra: "no"`` is not
        a boolean, ``temperature: "4"`` not a number; :func:`cskd.method_index.check_option_values`)."""
        check_option_values(cls.name, cls.option_types(), args)


def build_method(name: str, args: dict[str, Any], student: FeatureSpec, teacher: FeatureSpec | None) -> Method:
    cls = get_method(name)
    cls.check_options(args)
    return cls(student, teacher, **args)
