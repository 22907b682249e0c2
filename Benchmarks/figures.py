"""Reads benchmark figures: one JSON object per line, keyed by name (other lines are ignored)."""
import json


def load(path):
    """A figure measured more than once (in rounds, taking turns with its baseline) is its
    median, with every round's value listed."""
    measured = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            figure = json.loads(line)
            measured.setdefault(figure["name"], []).append(figure)
    figures = {}
    for name, each in measured.items():
        if len(each) == 1:
            figures[name] = each[0]
        else:
            values = sorted(figure["value"] for figure in each)
            figures[name] = dict(each[0], value=values[len(values) // 2], rounds=[figure["value"] for figure in each])
    return figures


def medians(figures):
    """Figures measured in rounds (`name@round_metric`) become their median, with the rounds listed."""
    rounds = {}
    for name, figure in list(figures.items()):
        if "@" in name:
            base, rest = name.split("@", 1)
            rounds.setdefault(base + "_" + rest.split("_", 1)[1], []).append(figure)
            del figures[name]
    for name, measured in rounds.items():
        values = sorted(figure["value"] for figure in measured)
        figures[name] = {"name": name, "value": values[len(values) // 2], "unit": measured[0]["unit"],
                         "rounds": [figure["value"] for figure in measured]}
    return figures


def emitter(figures, context):
    """A function printing one figure as a JSON line, with its baseline, ratio and target."""
    import json

    def emit(name, baseline=None, target=None, met=None):
        out = dict(figures[name])
        out.update(context)
        if baseline is not None:
            out["baseline"] = baseline
            out["baseline_value"] = figures[baseline]["value"]
            out["ratio"] = round(out["value"] / figures[baseline]["value"], 3)
        if target is not None:
            out["target"] = target
            out["met"] = met(out)
        print(json.dumps(out))

    return emit
