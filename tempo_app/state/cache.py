"""A least-recently-used cache with a byte budget (Qt-free)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class LRUCache:
    """Maps keys to values whose size is given by ``size_of`` (default: ``.nbytes`` or 1)."""

    def __init__(self, max_bytes: int = 256 * 2**20, max_items: int = 512) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key][0]

    def put(self, key: Hashable, value: Any, size: int | None = None) -> None:
        if size is None:
            size = int(getattr(value, "nbytes", 1))
        if key in self._items:
            self._bytes -= self._items.pop(key)[1]
        self._items[key] = (value, size)
        self._bytes += size
        while self._items and (self._bytes > self.max_bytes or len(self._items) > self.max_items):
            if len(self._items) == 1:
                break
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
