"""Prints the Nexus' own account of its last data fold (its stderr log) as a figure.

Usage: fold_line.py NEXUS_LOG
The line: `spike nexus: data folded from [the snapshot of record N and ]M records of the log in T ms`.
"""
import json
import re
import sys

pattern = re.compile(r"data folded from (?:the snapshot of record (\d+) and )?(\d+) records of the log in (\d+) ms")
found = [pattern.search(line) for line in open(sys.argv[1], errors="replace")]
found = [match for match in found if match]
if not found:
    sys.exit("no 'data folded' line in " + sys.argv[1])
snapshot, records, millis = found[-1].groups()
print(json.dumps({"name": "nexus_fold_after_shares", "value": int(millis), "unit": "ms",
                  "snapshot": int(snapshot) if snapshot else None, "log_records_folded": int(records)}))
