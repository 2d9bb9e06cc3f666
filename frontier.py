"""The quality/cost trade-off in numbers: frontiers, AIQ, cost to match, choosing by a goal, and
searching a selector's quality weight for the goal's boundary.

A strategy (a selector swept over quality weights, the single models, Oracle) is a set of
operating points (mean cost per query, mean quality) measured on the same held-out queries.
"Cost" is whatever the sweep's efficiency basis measures: USD or seconds of latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from errors import UsageError

EPS = 1e-12
UNITS = {"cost": "USD", "latency": "s"}  # the unit of each efficiency basis, as reports and plots print it


@dataclass(frozen=True)
class Point:
    cost: float
    quality: float
    key: Any = None  # what produced the point, e.g. ("knn", 0.9)


def pareto(points: list[Point]) -> list[Point]:
    """Points no other point beats on both axes, by increasing cost (and strictly increasing quality)."""
    ordered = sorted(points, key=lambda p: (p.cost, -p.quality))
    front: list[Point] = []
    for p in ordered:
        if not front or p.quality > front[-1].quality + EPS:
            front.append(p)
    return front


def upper_hull(points: list[Point]) -> list[Point]:
    """RouterBench's non-decreasing convex hull: the vertices of the best quality reachable at each cost.

    Any point on a segment between two operating points is reachable by sending each query to one
    of the two configurations at random in the right proportion, so the achievable curve is the
    upper convex hull of the Pareto points (which is non-decreasing by construction).
    """
    hull: list[Point] = []
    for p in pareto(points):
        # Drop the last vertex while it lies on or under the segment from the one before it to p.
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (b.cost - a.cost) * (p.quality - a.quality) - (b.quality - a.quality) * (p.cost - a.cost)
            if cross >= -EPS:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def hull_quality(hull: list[Point], cost: float) -> float:
    """The hull's quality at `cost`: 0 below its cheapest point (no configuration runs that cheap),
    flat after its dearest (spending more buys nothing), linear in between."""
    if not hull or cost < hull[0].cost - EPS:
        return 0.0
    for a, b in zip(hull, hull[1:]):
        if cost <= b.cost:
            return a.quality + (b.quality - a.quality) * (cost - a.cost) / (b.cost - a.cost)
    return hull[-1].quality


def aiq(points: list[Point], c_min: float, c_max: float) -> float:
    """Average quality over the cost range [c_min, c_max] of the strategy's non-decreasing convex hull:
    AIQ = 1 / (c_max - c_min) * integral from c_min to c_max of hull(c) dc (RouterBench, Hu et al. 2024,
    arXiv:2403.12031). The integral is exact: the hull is piecewise linear."""
    hull = upper_hull(points)
    if c_max <= c_min + EPS:
        return hull_quality(hull, c_min)
    # Breakpoints: the range ends and every hull vertex inside the range. Between two breakpoints
    # the hull is linear, except for the step up at its cheapest point, which is a breakpoint.
    xs = sorted({c_min, c_max} | {p.cost for p in hull if c_min < p.cost < c_max})
    area = 0.0
    for a, b in zip(xs, xs[1:]):
        if hull and b <= hull[0].cost + EPS and a < hull[0].cost - EPS:
            continue  # left of the cheapest point: quality 0
        area += 0.5 * (hull_quality(hull, a) + hull_quality(hull, b)) * (b - a)
    return area / (c_max - c_min)


def cost_to_match(points: list[Point], quality: float) -> Point | None:
    """The cheapest measured point whose quality reaches `quality` (None when none does)."""
    reaching = [p for p in points if p.quality >= quality - EPS]
    return min(reaching, key=lambda p: (p.cost, -p.quality)) if reaching else None


def quality_at_cost(points: list[Point], cost: float) -> Point | None:
    """The best-quality measured point that costs at most `cost` (None when every point costs more)."""
    within = [p for p in points if p.cost <= cost + EPS]
    return max(within, key=lambda p: (p.quality, -p.cost)) if within else None


@dataclass
class Choice:
    point: Point | None  # the chosen point, None when no point meets the target
    closest: Point | None  # when none meets it: the point that came closest
    shortfall: str = ""  # when none meets it: how close, in words


def choose(points: list[Point], min_quality: float | None = None, max_cost: float | None = None) -> Choice:
    """The point that meets the goal: quality >= min_quality and/or cost <= max_cost.

    With a quality floor alone, the cheapest point that reaches it; with a cost ceiling (alone or
    with a floor), the best quality within it (then the cheaper). When nothing meets the goal, the
    closest point: the best quality within the ceiling, or the cheapest point when even that
    breaks the ceiling.
    """
    if min_quality is None and max_cost is None:
        raise UsageError("a goal needs a minimum quality, a maximum cost, or both")
    meeting = [
        p for p in points if (min_quality is None or p.quality >= min_quality - EPS) and (max_cost is None or p.cost <= max_cost + EPS)
    ]
    if meeting:
        if max_cost is None:
            return Choice(min(meeting, key=lambda p: (p.cost, -p.quality)), None)
        return Choice(max(meeting, key=lambda p: (p.quality, -p.cost)), None)
    within = [p for p in points if max_cost is None or p.cost <= max_cost + EPS]
    if within:  # the ceiling is met, the floor is not
        best = max(within, key=lambda p: (p.quality, -p.cost))
        return Choice(None, best, f"the best quality within the goal's cost is {best.quality:.4f}, short of {min_quality:.4f}")
    cheapest = min(points, key=lambda p: (p.cost, -p.quality))
    return Choice(None, cheapest, f"the cheapest point costs {cheapest.cost:.4g}, above the goal's {max_cost:.4g}")


DEFAULT_WEIGHT_TOLERANCE = 0.002  # five bisections of the grid's 0.05 step


def boundary_test(min_quality: float | None = None, max_cost: float | None = None):
    """What the search locates: with a cost ceiling (alone or with a floor), where the cost crosses
    it, since the best quality within a ceiling lies just inside it; with a quality floor alone,
    where the quality crosses it, since the cheapest point reaching a floor lies just above it."""
    if max_cost is not None:
        return lambda p: p.cost <= max_cost + EPS
    if min_quality is not None:
        return lambda p: p.quality >= min_quality - EPS
    raise UsageError("a goal needs a minimum quality, a maximum cost, or both")


def search_weight(
    measure,
    measured: dict[float, Point],
    min_quality: float | None = None,
    max_cost: float | None = None,
    tolerance: float = DEFAULT_WEIGHT_TOLERANCE,
) -> list[float]:
    """Bisect one selector's quality weight in [0, 1] for the goal's boundary; the weights measured, in order.

    `measure(weight) -> Point` trains and measures one operating point (cost and quality, the
    caller's units); `measured` holds the points already measured (the grid), by weight, and gains
    every new one. What it relies on: cost and quality rise with the weight (more weight on quality
    buys dearer, better models), so `boundary_test` switches once along [0, 1]. Then the weights
    that meet it form one interval, the point the goal wants lies at its end, and bisection between
    the two measured weights that bracket the switch finds that end to within `tolerance` in
    weight (the last weight that meets the test and the first that does not are at most that far
    apart), in about log2(gap / tolerance) trainings. When every measured weight is on one side of
    the test, the end of [0, 1] towards the other side is measured first (under the assumption the
    only place the switch can be). When the curve is not monotone (the test switches more than
    once), the search bisects the bracket whose passing end is best by the goal's order (the
    highest quality within a ceiling, else the lowest cost) and finds a switch inside it, not
    necessarily the best one; since the caller chooses among measured points only, never an
    interpolated one, the result is never worse than choosing from the grid.
    """
    if not 0.0 < tolerance < 1.0:
        raise UsageError(f"the weight tolerance must be in (0, 1), got {tolerance}")
    holds = boundary_test(min_quality, max_cost)
    tried: list[float] = []

    def at(weight: float) -> Point:
        if weight not in measured:
            measured[weight] = measure(weight)
            tried.append(weight)
        return measured[weight]

    sides = {holds(p) for p in measured.values()}
    if sides == {False}:  # nothing meets the test: try the end where it would be met
        at(0.0 if max_cost is not None else 1.0)
    elif sides == {True}:  # everything does: try the end where it would stop
        at(1.0 if max_cost is not None else 0.0)
    weights = sorted(measured)
    brackets = [(a, b) for a, b in zip(weights, weights[1:]) if holds(measured[a]) != holds(measured[b])]
    if not brackets:
        return tried

    def merit(bracket: tuple[float, float]) -> tuple[float, float]:
        p = measured[bracket[0] if holds(measured[bracket[0]]) else bracket[1]]
        return (p.quality, -p.cost) if max_cost is not None else (-p.cost, p.quality)

    lo, hi = max(brackets, key=merit)
    while hi - lo > tolerance + EPS:
        # Four decimals: the weight prints exactly in the train.py command, and a step of 1e-4 is
        # far below any tolerance worth its trainings.
        mid = round((lo + hi) / 2, 4)
        if mid <= lo or mid >= hi:
            break
        if holds(at(mid)) == holds(measured[lo]):
            lo = mid
        else:
            hi = mid
    return tried
