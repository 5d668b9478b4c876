"""Writes files on request and says when each `close()` returned (its own process, so that no
thread of the benchmark, such as the fake API's, can delay the timestamp by holding the GIL).

Protocol: one JSON line `{"path": ..., "text": ...}` per write on stdin; one line with
`time.monotonic()` taken right after the close on stdout. Ends at EOF.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    for line in sys.stdin:
        order = json.loads(line)
        with open(order["path"], "w") as handle:  # open, write, close: an in-place save
            handle.write(order["text"])
        closed = time.monotonic()
        sys.stdout.write(f"{closed!r}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
