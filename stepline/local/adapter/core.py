"""What every adaptation of moto shares: its registry record and how it is installed.

An :class:`Adaptation` names the moto internal Stepline relies on, why, how
it is used (``kind``), the digest of the moto source it was written against
and the behavioural canary test that proves the moto bug it works around is
still there. The concern modules (``parsing``, ``jsonata``, ``intrinsics``,
``clock``, ``tasks``, ``mocks``, ``errors``, ``execution``) each declare
their entries next to their code; :mod:`stepline.local.adapter.registry`
collects and installs them.

Kinds:

* ``subclass``: Stepline's own subclass of a moto class, used only by the
  components Stepline's parser builds or the worker Stepline starts. moto's
  class is untouched.
* ``gated``: moto's attribute is replaced while a Stepline run is going on
  (:func:`~stepline.local.adapter.registry.adapted`), and put back when the
  last one ends; even meanwhile the replacement hands every call that does
  not belong to a Stepline run back to moto's original, so code outside a
  local run sees moto as shipped.
* ``bypass`` / ``housekeeping``: nothing is replaced; Stepline relies on the
  internal (reads it, or avoids it) and the canary watches it.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Final, Literal

PINNED_MOTO_VERSION: Final[str] = "5.2.5"
MOTO_SFN: Final[str] = "moto.stepfunctions.parser"

Kind = Literal["subclass", "gated", "bypass", "housekeeping"]


@dataclass(frozen=True)
class Adaptation:
    """One reliance on a moto internal, with what the canaries check about it.

    ``source_sha256`` pins the first 16 hex digits of the SHA-256 of moto
    5.2.5's source of ``target`` (``None`` for a non-function such as a
    list); ``relies_on`` pins other moto functions whose exact behaviour the
    adaptation depends on, as ``(target, digest)`` pairs. ``canary`` names
    the test in ``tests/engine/test_canaries.py`` that fails once moto no
    longer behaves as the adaptation assumes (the bug is fixed upstream, or
    the behaviour moved).
    """

    name: str
    target: str  # "module:Qualified.attribute" of the moto internal relied on
    kind: Kind
    why: str
    canary: str
    source_sha256: str | None
    expected_parameters: tuple[str, ...] | None
    relies_on: tuple[tuple[str, str], ...] = ()
    install: Callable[[Adaptation], None] | None = field(default=None, repr=False, compare=False)

    def resolve(self) -> tuple[Any, str]:
        return resolve(self.target)

    def original(self) -> Any:
        """The moto object this adaptation relies on, as moto ships it (before any patch)."""
        if self.name in _ORIGINALS:
            return _ORIGINALS[self.name]
        owner, attribute = self.resolve()
        return inspect.getattr_static(owner, attribute)

    def problems(self) -> list[str]:
        """Why this adaptation may no longer fit the installed moto; empty when it does."""
        try:
            original = self.original()
        except (ImportError, AttributeError) as missing:
            return [f"target {self.target} is gone ({missing})"]
        if self.source_sha256 is None:
            # A value, not code (a module-level list or flag): its canary watches it.
            return []
        found: list[str] = []
        function = function_of(original)
        if self.expected_parameters is not None:
            parameters = tuple(inspect.signature(function).parameters)
            if parameters != self.expected_parameters:
                found.append(
                    f"signature of {self.target} is {parameters}, "
                    f"expected {self.expected_parameters}"
                )
        checks = (
            (self.target, function, self.source_sha256),
            *((target, None, digest) for target, digest in self.relies_on),
        )
        for target, obj, pinned in checks:
            try:
                if obj is None:
                    owner, attribute = resolve(target)
                    obj = function_of(inspect.getattr_static(owner, attribute))
            except (ImportError, AttributeError) as missing:
                found.append(f"{target} is gone ({missing})")
                continue
            digest = source_digest(obj)
            if digest != pinned:
                found.append(f"source of {target} changed (sha256 {digest}, pinned {pinned})")
        return found


def resolve(target: str) -> tuple[Any, str]:
    module_name, _, qualified = target.partition(":")
    owner: Any = import_module(module_name)
    *path, attribute = qualified.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


def function_of(obj: Any) -> Any:
    return obj.__func__ if isinstance(obj, staticmethod | classmethod) else obj


def source_digest(obj: Any) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


_ORIGINALS: dict[str, Any] = {}
_MISSING: Final = object()
#: What installing changed, newest last: (owner, attribute, what its __dict__ held).
_UNDO: list[tuple[Any, str, Any]] = []


def patch(owner: Any, attribute: str, value: Any) -> None:
    """``setattr(owner, attribute, value)``, remembered so :func:`undo_patches` puts it back."""
    _UNDO.append((owner, attribute, vars(owner).get(attribute, _MISSING)))
    setattr(owner, attribute, value)


def on_undo(callback: Callable[[], None]) -> None:
    """Run ``callback`` when the patches are undone (for changes that are not attributes)."""
    _UNDO.append((callback, "", _MISSING))


def undo_patches() -> None:
    """Every :func:`patch` undone, newest first: moto's objects as it ships them."""
    while _UNDO:
        owner, attribute, previous = _UNDO.pop()
        if not attribute:
            owner()
        elif previous is _MISSING:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, previous)


def replace_with(replacement: Any) -> Callable[[Adaptation], None]:
    """An installer swapping the target for ``replacement``; moto's object is kept."""

    def install(adaptation: Adaptation) -> None:
        owner, attribute = adaptation.resolve()
        _ORIGINALS[adaptation.name] = inspect.getattr_static(owner, attribute)
        patch(owner, attribute, replacement)

    return install


def original(name: str) -> Any:
    """The moto implementation a gated adaptation replaced, callable as a plain function."""
    return function_of(_ORIGINALS[name])


def installed_originals() -> dict[str, Any]:
    return dict(_ORIGINALS)
