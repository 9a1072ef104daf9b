"""The targets of ``tempo eval``: which sequence folders hold which frames, per protocol.

A protocol (layout, N) names the images a target reads: its inputs and the ground truth (see
:data:`PROTOCOLS`). Sequence folders come from a Vimeo-90K list file under the data root
(``sep_testlist.txt`` / ``tri_testlist.txt`` naming ``sequences/<clip>/<seq>``) or, without one,
from a search for folders holding frames of the layout: any of ``im4.png .. im7.png`` marks a
septuplet (a folder with only ``im1 .. im3`` is a triplet), any of ``im1.png .. im3.png`` a
triplet. A folder that lacks an image the protocol reads is an *incomplete* target: it is counted
and named (:class:`IncompleteTarget`), never dropped silently; images the protocol never reads
(``im6.png`` for N=2) may be missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tempo_core.errors import InputError

LAYOUTS = {"septuplet": 7, "triplet": 3}
PROTOCOLS: dict[tuple[str, int], tuple[tuple[int, ...], tuple[float, ...], int]] = {
    # (layout, N): (input image numbers, their times, target image number); target time 0.5
    ("septuplet", 2): ((3, 5), (0.0, 1.0), 4),
    ("septuplet", 4): ((1, 3, 5, 7), (-1.0, 0.0, 1.0, 2.0), 4),
    ("triplet", 2): ((1, 3), (0.0, 1.0), 2),
}
TARGET_TIME = 0.5
# the image numbers whose presence marks a folder as a sequence of the layout
_MARKERS = {"septuplet": range(4, 8), "triplet": range(1, 4)}
_IMAGE = re.compile(r"im([1-9])\.png")


@dataclass(frozen=True)
class EvalSample:
    """One target: input image files at ``times`` and the ground-truth file at ``target_time``."""

    name: str
    clip: str
    inputs: tuple[Path, ...]
    times: tuple[float, ...]
    target: Path
    target_time: float = TARGET_TIME


@dataclass(frozen=True)
class IncompleteTarget:
    """A sequence folder that lacks images the protocol reads (``missing``: file names)."""

    name: str
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Targets:
    """The complete targets to score and the incomplete ones left out (each named)."""

    samples: list[EvalSample]
    incomplete: list[IncompleteTarget] = field(default_factory=list)


def protocol(layout: str, n: int) -> tuple[tuple[int, ...], tuple[float, ...], int]:
    """The input image numbers, their times and the target image number of (layout, N)."""
    if layout not in LAYOUTS:
        raise InputError(f"Unknown layout {layout!r}; use triplet or septuplet.")
    if (layout, n) not in PROTOCOLS:
        raise InputError(
            f"The {layout} protocol is defined for N="
            + " or N=".join(str(k[1]) for k in PROTOCOLS if k[0] == layout)
            + f", not N={n}."
        )
    return PROTOCOLS[(layout, n)]


def find_sequences(root: Path, layout: str) -> list[Path]:
    """Sequence folders of ``layout`` under ``root`` (list file if present, else a search),
    complete or not."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"The data folder {root} does not exist.")
    list_file = root / ("sep_testlist.txt" if layout == "septuplet" else "tri_testlist.txt")
    if list_file.exists():
        entries = [line.strip() for line in list_file.read_text().splitlines() if line.strip()]
        return [root / "sequences" / entry for entry in entries]
    found = set()
    for path in root.rglob("im*.png"):
        match = _IMAGE.fullmatch(path.name)
        if match and int(match.group(1)) in _MARKERS[layout]:
            found.add(path.parent)
    return sorted(found)


def _names(folder: Path, base: Path) -> tuple[str, str]:
    """The target's name (its path under ``base``) and its clip (that path less the last part)."""
    try:
        relative = folder.relative_to(base)
    except ValueError:
        relative = Path(folder.name)
    if relative == Path("."):  # --data is one sequence folder
        relative = Path(folder.resolve().name)
    clip = relative.parent.as_posix() if relative.parent != Path(".") else relative.name
    return relative.as_posix(), clip


def find_targets(root: str | Path, layout: str, n: int, limit: int = 0) -> Targets:
    """The targets of ``layout`` with N anchors under ``root``: the first ``limit`` complete ones
    (all with 0) and the incomplete folders met on the way.

    Raises :class:`InputError` when there is no complete target.
    """
    inputs, times, target = protocol(layout, n)
    root = Path(root)
    folders = find_sequences(root, layout)
    if not folders:
        raise InputError(f"No {layout}s (im1.png .. im{LAYOUTS[layout]}.png) were found under {root}.")
    base = root / "sequences" if (root / "sequences").is_dir() else root
    found = Targets([], [])
    for folder in folders:
        name, clip = _names(folder, base)
        missing = tuple(f"im{i}.png" for i in (*inputs, target) if not (folder / f"im{i}.png").is_file())
        if missing:
            found.incomplete.append(IncompleteTarget(name, missing))
            continue
        paths = tuple(folder / f"im{i}.png" for i in inputs)
        found.samples.append(EvalSample(name, clip, paths, times, folder / f"im{target}.png"))
        if limit > 0 and len(found.samples) >= limit:
            break
    if not found.samples:
        first = found.incomplete[0]
        raise InputError(
            f"None of the {len(found.incomplete)} {layout}s under {root} holds the images N={n} reads "
            f"({first.name} lacks {', '.join(first.missing)})."
        )
    return found


def discover_samples(root: str | Path, layout: str, n: int, limit: int = 0) -> list[EvalSample]:
    """The complete evaluation targets of ``layout`` with N anchors under ``root`` (first ``limit``)."""
    return find_targets(root, layout, n, limit).samples


def incomplete_line(incomplete: list[IncompleteTarget], shown: int = 5) -> str:
    """``2 incomplete targets left out: a/00001 (no im4.png), b/00002 (no im3.png)`` (first ``shown``)."""
    named = ", ".join(f"{t.name} (no {', '.join(t.missing)})" for t in incomplete[:shown])
    more = f" and {len(incomplete) - shown} more" if len(incomplete) > shown else ""
    noun = "target" if len(incomplete) == 1 else "targets"
    return f"{len(incomplete)} incomplete {noun} left out: {named}{more}"
