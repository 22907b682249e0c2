"""Runs one command (its output to /dev/null), and prints its figure as a JSON line: events per
second over EVENTS, the seconds, and the command's peak resident size.

Usage: timed.py NAME EVENTS COMMAND...
"""
import json
import resource
import subprocess
import sys
import time

name, events, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
start = time.perf_counter()
subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"name": name, "value": round(events / seconds), "unit": "events/s", "seconds": round(seconds, 3),
                  "events": events, "peak_resident_mb": round(peak, 1)}))
