"""A tiny name -> object registry used for targets, backends, tasks, sources and zoo models.

Registering a name twice raises; looking up an unknown name lists the valid ones and suggests
the nearest (see errors.UnknownNameError).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from edgephoto.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Holds objects by name. `modules` are imported on first lookup so entries self-register."""

    def __init__(self, kind: str, modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._modules = modules
        self._items: dict[str, T] = {}
        self._loaded = not modules

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def wrap(item: T) -> T:
            return self.add(name, item)

        return wrap

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[tuple[str, T]]:
        self._load()
        return iter(list(self._items.items()))
