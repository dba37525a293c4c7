"""A SentencePiece "precompiled charsmap" built from a plain {string: replacement} map, the form
the `tokenizers` library's `Precompiled` normalizer reads (as in XLM-R's own tokenizer.json).

The format: a little-endian uint32 with the trie's size in bytes, the trie (a darts-clone double
array of uint32 units over the keys' UTF-8 bytes), then the replacements, each NUL-terminated; a
key's value is the byte offset of its replacement. A unit holds a label (bits 0-7), a has-leaf
flag (bit 8) and the XOR offset to its children (bits 10-31); a leaf's value unit sits at the
children's base (label 0) with bit 31 set, so it never matches a label.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

import numpy as np

__all__ = ["build_charsmap"]

_Node = dict[int | None, Any]
_MAX_OFFSET = 1 << 21  # offsets above need darts-clone's extended form; a charsmap stays far below


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """The precompiled charsmap that replaces each key of `mapping` (e.g. "\\ufb01") by its value
    (e.g. "fi"; "" deletes it)."""
    replacements, where = bytearray(), {}
    for value in sorted(set(mapping.values())):
        where[value] = len(replacements)
        replacements += value.encode("utf-8") + b"\0"
    trie: _Node = {}  # byte -> child node; the key None holds a leaf's value
    for key, value in mapping.items():
        encoded = key.encode("utf-8")
        if not encoded or 0 in encoded:
            raise ValueError(f"charsmap keys must be non-empty and NUL-free, got {key!r}")
        node = trie
        for byte in encoded:
            node = node.setdefault(byte, {})
        node[None] = where[value]
    units = _double_array(trie)
    return struct.pack("<I", 4 * len(units)) + units.astype("<u4").tobytes() + bytes(replacements)


def _double_array(root: _Node) -> np.ndarray:
    size = 1 << 12
    units = np.zeros(size, dtype=np.int64)
    taken = np.zeros(size, dtype=bool)  # a unit is claimed
    based = np.zeros(size, dtype=bool)  # a base is some node's (one parent per base, so a
    taken[0] = True                     # label match at base ^ c is always this node's child)
    queue: deque[tuple[_Node, int, int]] = deque([(root, 0, 0)])  # (node, its position, its label)
    while queue:
        node, pos, label = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        base = _find_base(slots, taken, based)
        while base + 256 >= len(taken):
            units, taken, based = (np.concatenate([a, np.zeros_like(a)]) for a in (units, taken, based))
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("charsmap trie too large for the compact darts-clone unit")
        based[base] = True
        units[pos] = label | ((None in node) << 8) | (offset << 10)
        if None in node:
            units[base], taken[base] = (1 << 31) | node[None], True
        for child in labels:
            units[base ^ child], taken[base ^ child] = child, True  # completed when the child is reached
            queue.append((node[child], base ^ child, child))
    return units[: int(np.flatnonzero(taken).max()) + 1].astype(np.uint32)


def _find_base(slots: list[int], taken: np.ndarray, based: np.ndarray) -> int:
    """The first base, not yet any node's, whose slots (base ^ label) are all free (position 0 is
    the root's)."""
    first_free = int(np.argmin(taken))
    bases = np.arange(first_free & ~0xFF, len(taken) + 256)
    ok = ~np.pad(based, (0, 256))[bases]
    free = np.pad(~taken, (0, 512), constant_values=True)
    for slot in slots:
        ok &= free[bases ^ slot]
    return int(bases[np.argmax(ok)])
