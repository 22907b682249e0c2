"""Reads benchmark figures: one JSON object per line, keyed by name (other lines are ignored)."""
import json


def load(path):
    figures = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            figure = json.loads(line)
            figures[figure["name"]] = figure
    return figures
