"""The pictures validate.py and tradeoff.py draw (their --plot): validate's strategies on one set of
held-out queries, and tradeoff's quality/cost curves over the swept quality weights.

matplotlib is imported when a picture is drawn, not with this module: only --plot needs it, and
importing it costs a second on every run of the scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from frontier import UNITS, Point, pareto, upper_hull

if TYPE_CHECKING:
    from evaluation import StrategyResult
    from sweep import Sweep

FEW_MODELS = 4  # up to this many single models, the plot names each
STRATEGY_COLOURS = {"knn": "tab:red", "kmeans": "tab:orange", "svm": "tab:purple", "oracle": "tab:green", "by_category": "tab:brown"}
LABEL_BOX = {"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.7, "linewidth": 0}  # keeps a label readable over a line


def _pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display on servers and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, ax, path: Path, title: str) -> None:
    """Title the axes, write the figure to `path` (its folder made if missing) and free it."""
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)


def plot_results(results: list[StrategyResult], path: Path, title: str) -> None:
    """validate.py's picture: each strategy's average quality against its average latency (or cost,
    when not every strategy has a latency), with the single models' Pareto frontier; without either,
    quality per strategy as bars."""
    plt = _pyplot()
    use_latency = all(r.avg_latency is not None for r in results)
    use_cost = not use_latency and all(r.avg_cost is not None for r in results)
    x_of = (lambda r: r.avg_latency) if use_latency else (lambda r: r.avg_cost) if use_cost else None
    fig, ax = plt.subplots(figsize=(9, 6))
    singles = [r for r in results if r.kind == "always"]
    if x_of is None:
        # No efficiency data: quality per strategy as a bar chart.
        ordered = sorted(results, key=lambda r: r.avg_quality)
        ax.barh(
            [r.name for r in ordered],
            [r.avg_quality for r in ordered],
            color=["tab:green" if r.kind == "selector" else "tab:gray" if r.kind == "always" else "tab:blue" for r in ordered],
        )
        for i, r in enumerate(ordered):
            ax.text(r.avg_quality + 0.005, i, f"{r.avg_quality:.3f}", va="center", fontsize=8)
        ax.set_xlabel("average quality (the data has no latency or cost to plot against)")
    else:
        front = pareto([Point(x_of(r), r.avg_quality) for r in singles])
        if front:
            ax.plot([p.cost for p in front], [p.quality for p in front], "--", color="gray", label="single-model frontier")
        styles = {
            "always": ("o", "tab:gray"),
            "selector": ("*", "tab:red"),
            "oracle": ("D", "tab:green"),
            "random": ("s", "tab:blue"),
            "best_single": ("^", "black"),
            "by_category": ("v", "tab:purple"),
            "decision_default": ("P", "tab:orange"),
            "decision_oracle": ("d", "tab:olive"),
        }
        groups: dict[tuple[float, float], list[StrategyResult]] = {}
        for r in results:
            marker, color = styles[r.kind]
            ax.scatter(x_of(r), r.avg_quality, marker=marker, color=color, s=140 if r.kind == "selector" else 60, zorder=3)
            groups.setdefault((round(x_of(r), 6), round(r.avg_quality, 6)), []).append(r)
        for (x, y), members in groups.items():  # strategies on the same point share one label
            stacked = len(members) > 1  # a stack of names hangs below its point, clear of the ones above
            ax.annotate(
                "\n".join(m.name for m in members),
                (x, y),
                textcoords="offset points",
                xytext=(8, -6 if stacked else 4),
                va="top" if stacked else "bottom",
                fontsize=8,
            )
        ax.set_xlabel("average latency (s)" if use_latency else "average cost (USD)")
        ax.set_ylabel("average quality")
        ax.grid(alpha=0.3)
    _save(fig, ax, path, title)


def plot_sweep(sweep: Sweep, path: Path, title: str, chosen: Point | None = None, bounds: tuple | None = None) -> None:
    """Quality against cost (or latency) on a log axis, as a reader needs it: one line per strategy
    (named in the legend), the single models as dots, and labels only on the chosen point, the best
    single model and the ends of the single models' frontier; every other number is in the JSON.
    `bounds` (minimum quality, maximum cost) draws the goal."""
    fig, ax = _pyplot().subplots(figsize=(11, 6))
    singles = _draw_single_models(ax, sweep)
    _draw_strategies(ax, sweep)
    if bounds:
        _draw_goal(ax, *bounds)
    if chosen is not None:
        _draw_chosen(ax, sweep, chosen)
    _set_sweep_axes(ax, sweep, singles)
    _save(fig, ax, path, title)


def _draw_single_models(ax, sweep: Sweep) -> list[Point]:
    """The single models as dots under their frontier (the upper hull), labelled at the frontier's
    ends and the best single model (all of them when there are few); returns their points."""
    singles = sweep.points("single")
    front = upper_hull(singles)
    ax.plot([p.cost for p in front], [p.quality for p in front], "--", color="gray", label="single-model frontier (hull)")
    ax.scatter([p.cost for p in singles], [p.quality for p in singles], marker="o", color="tab:gray", zorder=3, label="single models")
    # A handful of models can all be named; more crowd each other, and the JSON has them.
    notes = {p.key: "" for p in singles} if len(singles) <= FEW_MODELS else {}
    notes.update({front[-1].key: " (top of the frontier)", front[0].key: " (cheapest on the frontier)"})
    notes[sweep.best_single] = " (best single)"  # over a frontier end it may also be
    c_min, c_max = sweep.cost_range
    middle = (c_min * c_max) ** 0.5 if c_min > 0 else (c_min + c_max) / 2  # the middle of a log axis
    for p in singles:
        if p.key in notes:
            right = p.cost > middle  # labels run inwards, so none leaves the axes
            ax.annotate(
                f"{p.key}{notes[p.key]}",
                (p.cost, p.quality),
                xytext=(-6 if right else 6, -12),
                textcoords="offset points",
                ha="right" if right else "left",
                fontsize=8,
                bbox=LABEL_BOX,
            )
    return singles


def _draw_strategies(ax, sweep: Sweep) -> None:
    """One line per strategy over the swept weights (Oracle, best per category, then each selector),
    and, as rings, the weights the goal's search tried between them."""
    for kind in ["oracle", "by_category"] + list(sweep.weights[0].selectors):  # the selectors drawn last, on top
        points = sorted(sweep.points(kind), key=lambda p: p.key[1])
        label = {"oracle": "Oracle", "by_category": "Best per category"}.get(kind, kind.upper()) + " (weights in the JSON)"
        ax.plot(
            [p.cost for p in points],
            [p.quality for p in points],
            "-" if kind != "by_category" else ":",
            marker={"oracle": "D", "by_category": "v"}.get(kind, "*"),
            color=STRATEGY_COLOURS.get(kind),
            label=label,
        )
    searched = [p for kind in sweep.weights[0].selectors for p in sweep.searched_points(kind)]
    if searched:
        ax.scatter(
            [p.cost for p in searched],
            [p.quality for p in searched],
            facecolors="none",
            edgecolors=[STRATEGY_COLOURS.get(p.key[0], "black") for p in searched],
            s=40,
            zorder=4,
            label="weights the goal's search tried",
        )


def _draw_goal(ax, min_quality: float | None, max_cost: float | None) -> None:
    """The goal's bounds as dotted lines: a floor on quality, a ceiling on cost (one legend entry)."""
    if min_quality is not None:
        ax.axhline(min_quality, color="black", linestyle=":", linewidth=1, label="goal")
    if max_cost is not None:
        ax.axvline(max_cost, color="black", linestyle=":", linewidth=1, label=None if min_quality is not None else "goal")


def _draw_chosen(ax, sweep: Sweep, chosen: Point) -> None:
    """The chosen operating point as a large star, labelled "chosen"; its figures go in the legend."""
    # A short label at the point, its figures in the legend, outside the axes: nothing to collide with.
    kind, weight = chosen.key
    figures = f"quality {chosen.quality:.3f}, {chosen.cost / sweep.reference.cost:.2f}x the best single's {sweep.basis}"
    label = f"chosen: {kind.upper()} at weight {weight:g}\n{figures}"
    colour = STRATEGY_COLOURS.get(kind)
    ax.scatter([chosen.cost], [chosen.quality], marker="*", s=260, color=colour, edgecolors="black", zorder=5, label=label)
    ax.annotate(
        "chosen",
        (chosen.cost, chosen.quality),
        xytext=(-8, 8),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        fontweight="bold",
        bbox=LABEL_BOX,
    )


def _set_sweep_axes(ax, sweep: Sweep, singles: list[Point]) -> None:
    """A log cost axis (symlog when a model is free), the axis labels, grid and the legend outside."""
    kinds = list(sweep.weights[0].selectors) + ["by_category", "oracle"]
    costs = [p.cost for p in singles] + [p.cost for kind in kinds for p in sweep.points(kind)]
    if min(costs) > 0:
        ax.set_xscale("log")  # cheap models differ by factors, not by amounts: a linear axis crowds them at the left edge
    else:  # a free model: linear up to the cheapest priced one
        ax.set_xscale("symlog", linthresh=min([c for c in costs if c > 0] or [1.0]))
    ax.set_xlabel(f"average {sweep.basis} per query ({UNITS[sweep.basis]}, log scale)")
    ax.set_ylabel("average quality")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: no point hides behind it
