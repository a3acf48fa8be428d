"""Bar charts as geometry for server-side SVG: the template only draws what is computed here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PLOT_TOP = 16
LABEL_SPACE = 34
GAP_RATIO = 0.25


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    names: tuple[str, ...] = ()
    """What each bar stands for, when its label under the chart is left blank to save room."""

    @property
    def empty(self) -> bool:
        return not self.bars or all(bar.value == 0 for bar in self.bars)

    @property
    def baseline(self) -> float:
        return self.height - LABEL_SPACE

    @property
    def description(self) -> str:
        """What a screen reader says instead of the picture."""
        names = self.names or tuple(bar.label for bar in self.bars)
        return "; ".join(f"{name}: {bar.text}" for name, bar in zip(names, self.bars, strict=False))


def bar_chart(
    title: str,
    points: Sequence[tuple[str, float, str]],
    *,
    width: int = 640,
    height: int = 200,
    describe: Sequence[str] = (),
) -> BarChart:
    """Bars scaled to the largest value; `points` are (label, value, text shown above the bar)."""
    plot_height = height - PLOT_TOP - LABEL_SPACE
    top = max((value for _, value, _ in points), default=0.0) or 1.0
    slot = width / max(1, len(points))
    bar_width = slot * (1 - GAP_RATIO)
    bars = []
    for index, (label, value, text) in enumerate(points):
        bar_height = plot_height * max(0.0, value) / top
        bars.append(
            Bar(
                label=label,
                value=value,
                text=text,
                x=round(index * slot + (slot - bar_width) / 2, 1),
                y=round(height - LABEL_SPACE - bar_height, 1),
                width=round(bar_width, 1),
                height=round(bar_height, 1),
            )
        )
    return BarChart(title=title, bars=tuple(bars), width=width, height=height, names=tuple(describe))
