"""The export report's plot: the frame score along the clip, the worst frames marked (PIL only).

One point per synthesized frame at its source time (x) and score (y, 1 at the top; the bottom is
0, or 0.5, 0.8 or 0.9 when every score and the safety net's threshold lie above it, so scores
that bunch near 1 stay apart: :func:`axis_floor`), joined by a line; real frames are short grey
ticks along the bottom edge; the five worst frames are red rings labelled with their time; frames
the safety net replaced are orange dots, and its threshold a dashed orange line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from tempo_core.video.report_records import ExportReport

SIZE = (960, 300)
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 16, 28, 34
BACKGROUND, AXIS, GRID, TEXT = (255, 255, 255), (60, 60, 60), (225, 225, 225), (30, 30, 30)
LINE, WORST, REPLACED, REAL = (40, 110, 200), (220, 30, 40), (240, 140, 20), (170, 170, 170)
FLOORS = (0.9, 0.8, 0.5, 0.0)  # possible bottoms of the score axis, highest first


def axis_floor(values: list[float]) -> float:
    """The highest of :data:`FLOORS` at least 0.01 below every value (0 for none)."""
    lowest = min(values, default=0.0)
    return next(floor for floor in FLOORS if floor <= lowest - 0.01 or floor == 0.0)


class _Axes:
    """Maps source time and score to pixels inside the plot area."""

    def __init__(self, start: float, end: float, floor: float = 0.0) -> None:
        self.start, self.end = start, end if end > start else start + 1.0
        self.floor = floor
        self.left, self.right = PAD_LEFT, SIZE[0] - PAD_RIGHT
        self.top, self.bottom = PAD_TOP, SIZE[1] - PAD_BOTTOM

    def x(self, time: float) -> float:
        return self.left + (time - self.start) / (self.end - self.start) * (self.right - self.left)

    def y(self, score: float) -> float:
        height = min(max((score - self.floor) / (1.0 - self.floor), 0.0), 1.0)
        return self.bottom - height * (self.bottom - self.top)


def draw_score_plot(report: ExportReport) -> Image.Image:
    """The plot as an RGB image of :data:`SIZE` pixels."""
    image = Image.new("RGB", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    times = [f.time for f in report.frames] or [0.0, 1.0]
    scores = [f.score for f in report.synthesized]
    threshold = [] if report.min_confidence is None else [report.min_confidence]
    axes = _Axes(min(times), max(times), axis_floor(scores + threshold))
    _frame(draw, axes, font, report)
    for entry in report.frames:
        if entry.score is None:
            x = axes.x(entry.time)
            draw.line([(x, axes.bottom - 4), (x, axes.bottom)], fill=REAL)
    points = [(axes.x(f.time), axes.y(f.score)) for f in report.synthesized]
    if len(points) > 1:
        draw.line(points, fill=LINE, width=2)
    for x, y in points:
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=LINE)
    for entry in report.replaced:
        x, y = axes.x(entry.time), axes.y(entry.score)
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=REPLACED)
    rings = [(axes.x(f.time), axes.y(f.score)) for f in report.worst()]
    placed = [(x - 8, y - 8, x + 8, y + 8) for x, y in rings]  # labels keep off every ring
    for entry in report.worst():
        x, y = axes.x(entry.time), axes.y(entry.score)
        draw.ellipse([x - 7, y - 7, x + 7, y + 7], outline=WORST, width=2)
        label = f"{entry.time:.2f}s"
        box = _free_spot(draw, font, label, x, y, placed)
        placed.append(box)
        draw.text(box[:2], label, fill=WORST, font=font)
    return image


def _free_spot(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont,
    label: str,
    x: float,
    y: float,
    placed: list[tuple[float, float, float, float]],
) -> tuple[float, float, float, float]:
    """Where ``label`` for the ring at ``(x, y)`` overlaps no label already ``placed``: right
    or left of the ring, above or below it, then further down (its box ``(x0, y0, x1, y1)``)."""
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    width, height = right - left, bottom - top
    candidates = [(x + 9, y - 16), (x + 9, y + 6), (x - 9 - width, y - 16), (x - 9 - width, y + 6)]
    candidates += [(x + 9, y + 6 + k * (height + 3)) for k in range(1, 6)]
    box = (0.0, 0.0, 0.0, 0.0)
    for cx, cy in candidates:
        cx = min(max(cx, PAD_LEFT + 2), SIZE[0] - PAD_RIGHT - width - 2)
        cy = min(max(cy, PAD_TOP + 2), SIZE[1] - PAD_BOTTOM - height - 4)
        box = (cx, cy, cx + width, cy + height)
        if not any(box[0] < b[2] + 2 and b[0] < box[2] + 2 and box[1] < b[3] + 2 and b[1] < box[3] + 2 for b in placed):
            return box
    return box


def _frame(draw: ImageDraw.ImageDraw, axes: _Axes, font: ImageFont.ImageFont, report: ExportReport) -> None:
    """Grid, axes, labels, the safety net's threshold and the title."""
    for k in range(5):
        score = axes.floor + k * (1.0 - axes.floor) / 4
        y = axes.y(score)
        draw.line([(axes.left, y), (axes.right, y)], fill=GRID)
        draw.text((6, y - 6), f"{score:.3f}".rstrip("0").rstrip(".") if score else "0", fill=TEXT, font=font)
    draw.rectangle([axes.left, axes.top, axes.right, axes.bottom], outline=AXIS)
    for k in range(6):
        time = axes.start + k * (axes.end - axes.start) / 5
        x = axes.x(time)
        draw.line([(x, axes.bottom), (x, axes.bottom + 4)], fill=AXIS)
        draw.text((x - 14, axes.bottom + 8), f"{time:.2f}s", fill=TEXT, font=font)
    if report.min_confidence is not None:
        y = axes.y(report.min_confidence)
        for x in range(int(axes.left), int(axes.right), 12):
            draw.line([(x, y), (min(x + 6, axes.right), y)], fill=REPLACED, width=1)
    title = (
        f"frame score (share of pixels with confidence >= {report.score_threshold:g}) along the source. "
        f"Red rings: the {len(report.worst())} worst"
    )
    if report.min_confidence is not None:
        title += f". Orange: replaced by the safety net (below {report.min_confidence:g})"
    if axes.floor > 0.0:
        title += f". Axis from {axes.floor:g}"
    draw.text((axes.left, 8), title, fill=TEXT, font=font)
