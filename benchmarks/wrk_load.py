"""Drive a request plan with wrk (a separate C process), paced to a rate, and read its latency summary.

wrk 4 is closed-loop: each connection sends, waits for the answer, then waits `delay()` ms. With
`connections` connections and a delay of `connections / rate` seconds the arrival rate is close to
`rate` while answers are fast; a slow answer delays that connection's next request (the achieved rate
drops) rather than showing in the tail, which is why `bench_api.py` reports both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

LUA = """
local paths = {%(paths)s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
delay = function() return %(delay_ms)d end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, '
    .. '"p99_us": %%d, "max_us": %%d, "status_errors": %%d, "socket_errors": %%d}\\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(base: str, targets: list[str], rate: float, duration: float, connections: int) -> dict[str, Any]:
    """Send `targets` (cycled) to `base` with wrk for `duration` s at about `rate` requests/s.

    Args:
        base: the server's base URL.
        targets: request paths, in order.
        rate: the arrival rate to pace to.
        duration: seconds of load.
        connections: connections wrk keeps open (one thread drives them all).

    Returns:
        Achieved rate, latency percentiles (ms, from each send) and error counts.
    """
    delay_ms = round(connections / rate * 1000)
    script = LUA % {"paths": ",".join(json.dumps(t) for t in targets), "delay_ms": delay_ms}
    with tempfile.TemporaryDirectory(prefix="tf-wrk-") as tmp:
        lua = Path(tmp) / "plan.lua"
        lua.write_text(script)
        done = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s", "-s", str(lua),
             base], capture_output=True, text=True, check=True,
        )  # fmt: skip
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    return {
        "achieved_rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "errors": raw["status_errors"] + raw["socket_errors"],
        "requests": raw["requests"],
        **{f"{q}_ms": round(raw[f"{q}_us"] / 1000, 2) for q in ("p50", "p90", "p99", "max")},
        "delay_ms": delay_ms,
    }
