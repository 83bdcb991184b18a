"""The server under test (a uvicorn subprocess) and the load generators: wrk with a generated
Lua script, an asyncio httpx fallback, and the bulk senders.

Every evaluation request is signed (HMAC-SM3, issue 3). wrk's Lua cannot compute SM3, so its
requests are pre-signed here (``write_signed_requests``): one file per wrk thread, one line per
request. The httpx clients sign as they send (``SignedAuth``). The health check stays unsigned."""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import _common as common
from _measure import descendants
from haochaping.clients import signing
from haochaping.clients.service import IssuedKey
from haochaping.clock import utcnow

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


# --- server --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self,
        *,
        url: str,
        workers: int,
        port: int,
        workdir: Path,
        app: str,
        key_file: Path,
        rate_limits: bool = False,
    ) -> None:
        self.url, self.workers, self.port, self.key_file = url, workers, port, key_file
        self.rate_limits = rate_limits
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "HCP_DATABASE_URL": url,
            "HCP_TICK_INTERVAL": "0",
            # The keys the seeding process encrypted the applicants' data with.
            "HCP_KEY_FILE": str(key_file),
            # Every load comes from 127.0.0.1: the per-address limits (health: 1,200/minute)
            # would answer 429 to most of it. The switch is meant for load tests.
            "HCP_RATE_LIMITS_ENABLED": "true" if rate_limits else "false",
        }
        self.cmd = [
            str(VENV_BIN / "uvicorn"),
            "--factory",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    @property
    def shell_command(self) -> str:
        env = (
            f"HCP_DATABASE_URL={self.url} HCP_TICK_INTERVAL=0 "
            f"HCP_KEY_FILE={shlex.quote(str(self.key_file))} "
            f"HCP_RATE_LIMITS_ENABLED={'true' if self.rate_limits else 'false'}"
        )
        return env + " " + " ".join(shlex.quote(c) for c in self.cmd)

    def start(self) -> None:
        with self.log_path.open("wb") as out:
            # A session of its own: Ctrl-C in the terminal reaches us, and we stop it in order.
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/api/v1/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not answer /api/v1/health within 60 s")
        # Every worker must be up, not only the first one to answer.
        while time.monotonic() < deadline and len(self.workers_pids()) < self.workers:
            time.sleep(0.2)
        with httpx.Client(base_url=self.base) as client:
            for _ in range(20 * self.workers):
                client.get("/api/v1/health")
        time.sleep(0.5)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        return descendants(self.pid)

    def workers_pids(self) -> list[int]:
        return [p for p in self.pids() if p != self.pid and _is_python(p)]

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Only the process group we started: the uvicorn master and its workers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _is_python(pid: int) -> bool:
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"multiprocessing.resource_tracker" not in cmdline
    return False


# --- load generators -----------------------------------------------------------------------------

EVALUATIONS_PATH = "/api/v1/evaluations"
BULK_PATH = "/api/v1/evaluations/bulk"

WRK_LUA = r"""
-- Generated by bench/ingest.py. Each wrk thread rates its own slice of occasion ids, with
-- requests pre-signed in Python (Lua has no SM3): SIGNED .. tid .. ".tsv" holds one line per
-- request, "body<TAB>timestamp<TAB>nonce<TAB>signature".
local MARGIN, MODE = %(margin)d, "%(mode)s"
local CLIENT, KID, SIGNED = "%(client)s", "%(kid)s", "%(signed)s"
-- Every RECYCLE-th request asks the server to close its connection (0: never). uvicorn's
-- workers share one listening socket and the first to wake accepts every pending connection,
-- so connections opened at once may all land on one worker; reconnecting spreads them.
local RECYCLE = %(recycle)d
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  bodies, stamps, nonces, sigs = {}, {}, {}, {}
  count = 0
  if MODE ~= "health" then
    for line in io.lines(SIGNED .. tid .. ".tsv") do
      local b, t, n, s = string.match(line, "^(.-)\t(%%d+)\t([%%w_%%-]+)\t(%%x+)$")
      if b then
        count = count + 1
        bodies[count], stamps[count], nonces[count], sigs[count] = b, t, n, s
      end
    end
  end
  next_i = 1
  last_i = count - MARGIN
  non2xx = 0
  sample = ""
  sent = 0
end

local function headers(extra)
  sent = sent + 1
  if RECYCLE > 0 and sent %% RECYCLE == 0 then
    extra["Connection"] = "close"
  end
  return extra
end

function request()
  if MODE == "health" then
    return wrk.format("GET", "/api/v1/health", headers({}))
  end
  -- Past the end (should not happen: the thread stops MARGIN lines before) the last line is
  -- sent again and refused as a replay (401 nonce_reused), which the report counts.
  local i = math.min(next_i, count)
  next_i = next_i + 1
  return wrk.format("POST", "%(path)s", headers({
    ["Content-Type"] = "application/json",
    ["X-HCP-Client"] = CLIENT,
    ["X-HCP-Key-Id"] = KID,
    ["X-HCP-Timestamp"] = stamps[i],
    ["X-HCP-Nonce"] = nonces[i],
    ["X-HCP-Signature"] = sigs[i],
  }), bodies[i])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if sample == "" then sample = status .. " " .. string.sub(body, 1, 300) end
  end
  if MODE ~= "health" and next_i > last_i then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad, sample_out = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    local s = t:get("sample")
    if s and s ~= "" and sample_out == "" then sample_out = s end
  end
  local e = summary.errors
  io.write("WRKJSON " .. string.format(
    '{"requests":%%d,"duration_us":%%d,"non2xx":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"timeout":%%d,"mean_us":%%.1f,"max_us":%%d,"p50_us":%%d,"p90_us":%%d,"p95_us":%%d,' ..
    '"p99_us":%%d,"p999_us":%%d}',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9)) .. "\n")
  io.write("WRKSAMPLE " .. sample_out .. "\n")
end
"""


@dataclass
class SignedFiles:
    """Pre-signed single evaluations for wrk: ``{prefix}{tid}.tsv`` per thread."""

    prefix: Path
    lines: int
    seconds: float


def signed_line(creds: IssuedKey, body: bytes, now: Any, nonce: str) -> str:
    """One pre-signed request: body, timestamp, nonce, signature (tab-separated)."""
    h = signing.sign_headers(
        client=creds.client,
        kid=creds.kid,
        secret=creds.secret,
        method="POST",
        path=EVALUATIONS_PATH,
        body=body,
        now=now,
        nonce=nonce,
    )
    return "\t".join(
        (
            body.decode(),
            h[signing.HEADER_TIMESTAMP],
            h[signing.HEADER_NONCE],
            h[signing.HEADER_SIGNATURE],
        )
    )


def write_signed_requests(
    *, creds: IssuedKey, ids: range, threads: int, workdir: Path, mode: str
) -> SignedFiles:
    """Body and signed headers of every single evaluation the run may send, one file per wrk
    thread (thread ``t`` gets the ``t``-th slice of ``ids``). Timestamp: now (the server
    accepts it for ``signing.TOLERANCE`` seconds); nonce: random prefix + occasion id."""
    t0 = time.perf_counter()
    rng = random.Random(1000 + ids.start)
    per_thread = len(ids) // threads
    prefix = workdir / f"signed-{mode}-"
    run = secrets.token_hex(6)
    now = utcnow()
    for tid in range(threads):
        lines = []
        for occasion_id in ids[tid * per_thread : (tid + 1) * per_thread]:
            body = json.dumps(
                common.evaluation_payload(occasion_id, rng),
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            lines.append(signed_line(creds, body, now, f"{run}-{occasion_id}"))
        Path(f"{prefix}{tid}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SignedFiles(prefix, per_thread * threads, time.perf_counter() - t0)


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    errors: int
    p50: float
    p95: float
    p99: float
    mean: float
    max: float
    ids_used: int = 0
    ran_out: bool = False
    error_sample: str = ""
    error_detail: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)
    # Pre-signing before the run (wrk): requests signed and the time it took.
    presigned: int = 0
    presign_seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    *,
    base: str,
    mode: str,
    ids: range,
    clients: int,
    threads: int,
    seconds: float,
    workdir: Path,
    recycle: int,
    creds: IssuedKey,
) -> LoadResult:
    threads = max(1, min(threads, clients))
    margin = -(-clients // threads) + 2  # a request per connection may follow the stop
    signed = (
        write_signed_requests(creds=creds, ids=ids, threads=threads, workdir=workdir, mode=mode)
        if mode != "health"
        else None
    )
    script = workdir / f"wrk-{mode}.lua"
    script.write_text(
        WRK_LUA
        % {
            "margin": margin,
            "mode": mode,
            "recycle": recycle,
            "client": creds.client,
            "kid": creds.kid,
            "signed": signed.prefix if signed else "",
            "path": EVALUATIONS_PATH,
        }
    )
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        base,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line.split(" ", 1)[1])
    sample = next((ln[10:] for ln in proc.stdout.splitlines() if ln.startswith("WRKSAMPLE ")), "")
    socket_errors = {k: data[k] for k in ("connect", "read", "write", "timeout") if data[k]}
    seconds_run = data["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        requests=data["requests"],
        seconds=seconds_run,
        errors=data["non2xx"] + sum(socket_errors.values()),
        p50=data["p50_us"] / 1000,
        p95=data["p95_us"] / 1000,
        p99=data["p99_us"] / 1000,
        mean=data["mean_us"] / 1000,
        max=data["max_us"] / 1000,
        ids_used=data["requests"] if mode != "health" else 0,
        ran_out=mode != "health" and seconds_run < seconds - 1.0,
        error_sample=sample.strip(),
        error_detail={"non2xx": data["non2xx"], **socket_errors},
        presigned=signed.lines if signed else 0,
        presign_seconds=signed.seconds if signed else 0.0,
    )


def run_httpx(
    *,
    base: str,
    mode: str,
    ids: range,
    clients: int,
    seconds: float,
    recycle: int,
    creds: IssuedKey,
    **_: Any,
) -> LoadResult:
    """Fallback load generator: asyncio + httpx in this (client) process; evaluations are
    signed as they are sent (``SignedAuth``), the health check is not."""
    import asyncio

    latencies: list[float] = []
    errors = Counter[str]()
    sample: list[str] = []
    id_iter: Iterator[int] = iter(ids)
    rng = random.Random(1)
    sent = [0]
    auth = signing.SignedAuth(creds.client, creds.kid, creds.secret) if mode != "health" else None

    async def one_client(client: httpx.AsyncClient, stop_at: float) -> None:
        while time.perf_counter() < stop_at:
            sent[0] += 1
            # See RECYCLE in the wrk script: spread connections over the workers.
            headers = {"Connection": "close"} if recycle and sent[0] % recycle == 0 else {}
            if mode == "health":
                req = client.build_request("GET", "/api/v1/health", headers=headers)
            else:
                occasion_id = next(id_iter, None)
                if occasion_id is None:
                    return
                req = client.build_request(
                    "POST",
                    EVALUATIONS_PATH,
                    json=common.evaluation_payload(occasion_id, rng),
                    headers=headers,
                )
            t0 = time.perf_counter()
            try:
                resp = await client.send(req, auth=auth)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - t0)
            if not 200 <= resp.status_code < 300:
                errors["non2xx"] += 1
                if not sample:
                    sample.append(f"{resp.status_code} {resp.text[:300]}")

    async def main() -> float:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            t0 = time.perf_counter()
            stop_at = t0 + seconds
            await asyncio.gather(*(one_client(client, stop_at) for _ in range(clients)))
            return time.perf_counter() - t0

    wall = asyncio.run(main())
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return LoadResult(
        tool="httpx",
        requests=len(ms),
        seconds=wall,
        errors=sum(errors.values()),
        p50=common.percentile(ms, 50),
        p95=common.percentile(ms, 95),
        p99=common.percentile(ms, 99),
        mean=sum(ms) / len(ms) if ms else float("nan"),
        max=ms[-1] if ms else float("nan"),
        ids_used=len(ms) if mode != "health" else 0,
        ran_out=mode != "health" and wall < seconds - 1.0,
        error_sample=sample[0] if sample else "",
        error_detail=dict(errors),
    )


@dataclass
class BulkResult:
    batches: int
    accepted: int
    rejected: int
    errors: int
    seconds: float
    batch_latencies: list[float]
    error_sample: str = ""
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def eps(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def run_bulk(
    *, base: str, ids: list[int], size: int, senders: int, max_seconds: float, creds: IssuedKey
) -> BulkResult:
    """Bulk requests of ``size`` items from ``senders`` threads, each signed as it is sent (the
    body is hashed then: part of the measured cost, as for a real business system)."""
    rng = random.Random(2)
    bodies = [
        json.dumps(
            {"items": [common.evaluation_payload(i, rng) for i in ids[start : start + size]]},
            ensure_ascii=False,
        ).encode()
        for start in range(0, len(ids) - size + 1, size)
    ]
    lock = threading.Lock()
    todo = list(reversed(bodies))
    latencies: list[float] = []
    totals = Counter[str]()
    sample: list[str] = []
    stop_at = time.perf_counter() + max_seconds

    def sender() -> None:
        auth = signing.SignedAuth(creds.client, creds.kid, creds.secret)
        with httpx.Client(base_url=base, timeout=600, auth=auth) as client:
            while time.perf_counter() < stop_at:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                t0 = time.perf_counter()
                try:
                    # A connection per batch, so that batches spread over the workers.
                    resp = client.post(
                        BULK_PATH,
                        content=body,
                        headers={"Content-Type": "application/json", "Connection": "close"},
                    )
                except httpx.HTTPError as exc:
                    totals["errors"] += 1
                    sample.append(repr(exc))
                    continue
                latencies.append(time.perf_counter() - t0)
                totals["batches"] += 1
                if resp.status_code != 200:
                    totals["errors"] += 1
                    sample.append(f"{resp.status_code} {resp.text[:300]}")
                    continue
                out = resp.json()
                totals["accepted"] += out["accepted"]
                totals["rejected"] += out["rejected"]
                if out["rejected"] and not sample:
                    first = next(r for r in out["results"] if not r["accepted"])
                    sample.append(json.dumps(first, ensure_ascii=False)[:300])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        for fut in [pool.submit(sender) for _ in range(senders)]:
            fut.result()
    wall = time.perf_counter() - t0
    return BulkResult(
        batches=totals["batches"],
        accepted=totals["accepted"],
        rejected=totals["rejected"],
        errors=totals["errors"],
        seconds=wall,
        batch_latencies=sorted(latencies),
        error_sample=sample[0] if sample else "",
    )
