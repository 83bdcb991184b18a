"""What the bench scripts measure besides latency: CPU and memory from /proc (server, PostgreSQL,
client, the rest of the machine), PostgreSQL's own counters, and a summary of py-spy samples."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- /proc ---------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    return [raw[: raw.rindex(")") + 1], *raw[raw.rindex(")") + 2 :].split()]


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(int(st[2]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def postgres_pids(dbname: str) -> list[int]:
    """PostgreSQL's shared background processes and the backends of ``dbname`` (not those of
    other sessions' databases: their CPU counts as "other processes")."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if Path(f"/proc/{entry}/comm").read_text().strip() != "postgres":
                continue
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            is_backend = "(" in title or "[local]" in title or "worker" in title
            if f" {dbname} " in title or not is_backend:
                pids.append(int(entry))
    return pids


def reaped_cpu(pid: int) -> float:
    """CPU of ``pid``'s children that have exited and been reaped (cutime + cstime): for the
    PostgreSQL postmaster, the backends of connections that were closed."""
    st = _stat(pid)
    return (int(st[14]) + int(st[15])) / CLK_TCK if st is not None else 0.0


def postmaster_pid() -> int | None:
    for pid in postgres_pids("\0"):
        st = _stat(pid)
        if st is not None and not _is_postgres(int(st[2])):
            return pid
    return None


def _is_postgres(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    return False


def pg_counters(admin_url: str, dbname: str) -> tuple[int, int]:
    """(sessions opened, transactions committed) so far in ``dbname`` (pg_stat_database)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = %s", (dbname,)
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            out[pid] = (int(st[12]) + int(st[13])) / CLK_TCK  # utime + stime
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """Peak of the summed RSS of the server's processes, sampled every 0.2 s."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_total_kb = 0
        self.peak_kb: dict[int, int] = {}
        self.hwm_kb: dict[int, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(0.2)

    def sample(self) -> None:
        total = 0
        for pid in descendants(self.root):
            rss = status_kb(pid, "VmRSS")
            total += rss
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), rss)
            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status_kb(pid, "VmHWM"))
        self.peak_total_kb = max(self.peak_total_kb, total)

    def stop(self) -> None:
        self.sample()
        self._stop_event.set()


@dataclass
class CpuWindow:
    """CPU used by server, PostgreSQL, client and the whole machine during one phase."""

    server_pids: list[int]
    dbname: str
    admin_url: str
    started: float = 0.0
    postmaster: int | None = None
    reaped0: float = 0.0
    counters0: tuple[int, int] = (0, 0)
    server0: dict[int, float] = field(default_factory=dict)
    pg0: dict[int, float] = field(default_factory=dict)
    machine0: tuple[float, float] = (0.0, 0.0)
    children0: float = 0.0
    self0: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> CpuWindow:
        self.started = time.perf_counter()
        self.server0 = cpu_seconds(self.server_pids)
        self.pg0 = cpu_seconds(postgres_pids(self.dbname))
        self.postmaster = postmaster_pid()
        self.reaped0 = reaped_cpu(self.postmaster) if self.postmaster else 0.0
        self.counters0 = pg_counters(self.admin_url, self.dbname)
        self.machine0 = machine_busy()
        ch, me = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(0)
        self.children0, self.self0 = ch.ru_utime + ch.ru_stime, me.ru_utime + me.ru_stime
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.started
        server1 = cpu_seconds(self.server_pids)
        pg1 = cpu_seconds(postgres_pids(self.dbname))
        busy1, total1 = machine_busy()
        reaped = (reaped_cpu(self.postmaster) - self.reaped0) if self.postmaster else 0.0
        sessions1, commits1 = pg_counters(self.admin_url, self.dbname)
        ch, me = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(0)
        per_worker = {pid: server1[pid] - self.server0.get(pid, 0.0) for pid in server1}
        self.result = {
            "wall": wall,
            "server": sum(per_worker.values()),
            "per_process": per_worker,
            # Live processes, plus the backends that exited meanwhile (closed connections;
            # those of other databases' short sessions too, which cannot be told apart).
            "postgres": sum(pg1[p] - self.pg0.get(p, 0.0) for p in pg1) + reaped,
            "pg_exited_backends": reaped,
            "pg_sessions": sessions1 - self.counters0[0],
            "pg_commits": commits1 - self.counters0[1],
            "client": (ch.ru_utime + ch.ru_stime - self.children0)
            + (me.ru_utime + me.ru_stime - self.self0),
            "machine_busy_pct": 100.0
            * (busy1 - self.machine0[0])
            / max(1.0, total1 - self.machine0[1]),
        }
        # Whatever else ran on the machine meanwhile (other benchmarks, test suites…).
        self.result["other"] = max(
            0.0,
            (busy1 - self.machine0[0]) / CLK_TCK
            - self.result["server"]
            - self.result["postgres"]
            - self.result["client"],
        )


# --- py-spy --------------------------------------------------------------------------------------

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
PROCESS_FRAMES = re.compile(r'^(process \d+:".*?";)+')


def summarize_pyspy(raw: Path, top: int = 20) -> list[str]:
    """Where the sampled GIL-holding time of the workers goes: functions (self), packages
    (self) and haochaping functions (inclusive)."""
    self_c, pkg_c, ours_c = Counter[str](), Counter[str](), Counter[str]()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        # 'process PID:"cmdline";…' frames come first; a command line may hold ';'.
        frames = []
        for frame in PROCESS_FRAMES.sub("", stack).split(";"):
            m = FRAME.match(frame)
            if m is None or frame.startswith("thread "):
                continue
            path = m["file"]
            for marker in ("site-packages/", "/src/"):
                if marker in path:
                    path = path.split(marker, 1)[1]
                    break
            # py-spy gives module paths ("sqlalchemy/orm/session.py", "threading.py").
            package = path.split("/", 1)[0] if "/" in path else "stdlib " + path
            frames.append((f"{m['func']} ({path})", package))
        if not frames:
            continue
        total += count
        self_c[frames[-1][0]] += count
        pkg_c[frames[-1][1]] += count
        for name in {name for name, package in frames if package == "haochaping"}:
            ours_c[name] += count
    if not total:
        return ["  (no samples)"]
    out = [f"  {total} samples of threads holding the GIL; self time by package:"]
    shown = pkg_c.most_common(10)
    rest = total - sum(n for _, n in shown)
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in [*shown, ("(the rest)", rest)]]
    out.append("  self time by function:")
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in self_c.most_common(top)]
    out.append("  haochaping functions, inclusive (function and what it calls):")
    out += [f"    {100 * n / total:5.1f}%  {name}" for name, n in ours_c.most_common(top)]
    return out
