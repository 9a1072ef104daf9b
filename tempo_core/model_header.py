"""A safetensors file's header, read and checked without loading one tensor.

A safetensors file is an 8-byte little-endian header length, a JSON header naming every tensor
(``dtype``, ``shape``, ``data_offsets`` into the data that follows) plus ``__metadata__``
(strings), then the data. A hostile file can claim anything there: a 1.5 GB tensor TEMPO never
uses, a million tensors, a header of gigabytes. :func:`read_header` reads only the header, from
a file opened so that a pipe or device cannot block it (:func:`tempo_core.local_files.open_regular`),
and refuses before anything large is allocated:

* a header longer than :data:`MAX_HEADER_BYTES` (from the 8-byte length alone) or than the file;
* more than :data:`MAX_TENSORS` tensors;
* a tensor entry that is malformed, of an unknown dtype, or whose offsets do not match its shape
  or lie outside the file.

What the names, dtypes and shapes must be is the caller's business
(:func:`tempo_core.checkpoint.load_model` compares them with the network the config describes).
Each refusal is a :class:`HeaderError` whose text completes "X is not a readable safetensors
model file (...)".
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from tempo_core.local_files import open_regular

__all__ = ["DTYPE_BYTES", "MAX_HEADER_BYTES", "MAX_TENSORS", "HeaderError", "ModelHeader", "TensorEntry", "read_header"]

# The largest network CONFIG_LIMITS allows has 1,804 tensors and a header of about 0.2 MB; the
# bundled model's header is 27 KB.
MAX_HEADER_BYTES = 2**20
MAX_TENSORS = 10_000
MAX_DIMENSIONS = 8
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


class HeaderError(ValueError):
    """The header is malformed or claims more than TEMPO reads (the text says what)."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it: safetensors dtype name (``"F32"``), shape, bytes."""

    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class ModelHeader:
    """The ``__metadata__`` strings and the tensor entries by name, in the file's order."""

    metadata: dict[str, str]
    tensors: dict[str, TensorEntry]


def read_header(path: str | os.PathLike[str]) -> ModelHeader:
    """The checked header of the safetensors file ``path`` (see the module docstring).

    Raises :class:`HeaderError` for a bad header, OSError (``NotRegularFileError`` for a pipe or
    device) when the file cannot be read."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise HeaderError("it is shorter than a safetensors header")
        length = int.from_bytes(prefix, "little")
        if length > MAX_HEADER_BYTES:
            raise HeaderError(f"its header claims {length:,} bytes; TEMPO reads model headers up to 1 MB")
        if length > size - 8:
            raise HeaderError("its header is longer than the file")
        raw = handle.read(length)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HeaderError("its header is not JSON") from None
    if not isinstance(data, dict):
        raise HeaderError("its header is not a JSON object")
    metadata = data.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise HeaderError("its metadata is not a table of strings")
    if len(data) > MAX_TENSORS:
        raise HeaderError(f"it lists {len(data):,} tensors; a TEMPO model has at most {MAX_TENSORS:,}")
    data_bytes = size - 8 - length
    tensors = {str(name): _entry(str(name), value, data_bytes) for name, value in data.items()}
    return ModelHeader(dict(metadata), tensors)


def _entry(name: str, value: object, data_bytes: int) -> TensorEntry:
    """One checked tensor entry; its data must lie inside the file's ``data_bytes``."""
    shown = name[:60]
    if not isinstance(value, dict):
        raise HeaderError(f"the entry of tensor {shown} is not an object")
    dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise HeaderError(f"tensor {shown} has an unknown dtype {str(dtype)[:20]}")
    if not _whole_numbers(shape) or len(shape) > MAX_DIMENSIONS:
        raise HeaderError(f"tensor {shown} has a malformed shape")
    if not _whole_numbers(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise HeaderError(f"tensor {shown} has malformed data offsets")
    nbytes = math.prod(shape) * DTYPE_BYTES[dtype]
    if offsets[1] - offsets[0] != nbytes:
        raise HeaderError(f"tensor {shown}'s data offsets do not match its shape")
    if offsets[1] > data_bytes:
        raise HeaderError(f"tensor {shown}'s data lies beyond the end of the file")
    return TensorEntry(dtype, tuple(shape), nbytes)


def _whole_numbers(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
