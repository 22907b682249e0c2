"""One table of the figures `scripts/bench all` printed that have a baseline or a goal.

Usage: table.py FIGURES.jsonl CORES
Prints Markdown: figure, value, baseline, ratio, goal, met (docs/performance.md keeps the latest).
"""
import datetime
import json
import platform
import sys


def number(value):
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    if isinstance(value, (int, float)):
        return f"{value:,}" if isinstance(value, int) else f"{value:.3g}"
    return str(value)


rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    figure = json.loads(line)
    if "baseline" not in figure and "target" not in figure:
        continue
    value = f"{number(figure['value'])} {figure.get('unit', '')}".strip()
    if "baseline_value" in figure:
        baseline = f"{figure['baseline']}: {number(figure['baseline_value'])}"
    else:
        baseline = number(figure["baseline"]) if "baseline" in figure else ""
    ratio = f"{figure['ratio']:.2f} x" if "ratio" in figure else ""
    met = {True: "yes", False: "**no**"}.get(figure.get("met"), "")
    rows.append((figure["name"], value, baseline, ratio, figure.get("target", ""), met))

print(f"Measured {datetime.date.today().isoformat()} on {platform.machine()}, {sys.argv[2]} cores, {platform.platform()}")
print()
print("| figure | value | baseline | ratio | goal | met |")
print("|---|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
