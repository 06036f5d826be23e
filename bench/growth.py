"""How cost grows: throughput and latency with concurrency and workers, memory per
concurrent execution, and start-up times."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowFailureError

from bench.cluster import Cluster, WorkerProcess, running_cluster, script_file, step_turns
from bench.common import HERE, Comparison, now, rounds
from bench.stats import Target, median_interval, percentile, pooled_percentile, slope_interval

LEVELS = (1, 10, 50)
REPO = HERE.parent


@dataclass
class Batch:
    per_minute: float
    """Completed executions per minute."""
    latencies: list[float]
    """Each completed execution's, workflow start to completion (s)."""
    failures: list[str]
    """Why each failed execution failed."""
    cpu_busy: float
    """Share of the machine's CPU time that was busy during the batch (all processes)."""


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def _batch(cluster: Cluster, queue: str, script: Path, concurrency: int, total: int) -> Batch:
    """`total` executions, at most `concurrency` at once."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: list[str] = []

    async def one() -> None:
        async with gate:
            execution = await cluster.new_execution(script)
            start = now()
            try:
                await cluster.run_ours(execution, queue)
            except WorkflowFailureError as err:
                failures.append(str(err.cause or err))
                return
            latencies.append(now() - start)

    start, (busy_before, total_before) = now(), _cpu_times()
    await asyncio.gather(*(one() for _ in range(total)))
    elapsed = now() - start
    busy_after, total_after = _cpu_times()
    busy = (busy_after - busy_before) / max(total_after - total_before, 1)
    return Batch(len(latencies) / elapsed * 60, latencies, failures, busy)


async def scaling() -> list[Comparison]:
    count = rounds(2, 1)
    totals = {1: rounds(4, 3), 10: rounds(20, 10), 50: rounds(50, 50)}
    cpus = os.cpu_count() or 1
    async with running_cluster() as cluster:
        cluster.start_worker("solo")
        cluster.start_worker("pair")
        cluster.start_worker("pair")
        script = script_file(cluster.data, step_turns(1))
        await _batch(cluster, "solo", script, 2, 2)  # warm-up
        await _batch(cluster, "pair", script, 2, 4)
        throughput = {
            c: Comparison(
                "how cost grows",
                f"concurrency {c} ({totals[c]} one-step executions): executions/min, two "
                "worker processes (ours) against one (alternative)",
                "executions/min",
                alternative="one worker process",
                target=Target(1.6, at_most=False) if c == max(LEVELS) else None,
            )
            for c in LEVELS
        }
        latency = {
            c: Comparison(
                "how cost grows",
                f"concurrency {c}: latency of an execution (workflow start to completion), "
                "one worker (ours) and two (alternative), p95 of each round",
                "s",
                alternative="two worker processes",
                statistic="one worker, p95 of all",
            )
            for c in LEVELS
        }
        solo_latencies: dict[int, list[list[float]]] = {c: [] for c in LEVELS}
        failures: dict[tuple[str, int], list[str]] = {
            (queue, c): [] for queue in ("solo", "pair") for c in LEVELS
        }
        cpu_busy: dict[tuple[str, int], list[float]] = {
            (queue, c): [] for queue in ("solo", "pair") for c in LEVELS
        }
        for n in range(count):
            for c in LEVELS:
                sides = ["solo", "pair"] if n % 2 == 0 else ["pair", "solo"]
                for queue in sides:
                    batch = await _batch(cluster, queue, script, c, totals[c])
                    per_minute, latencies = batch.per_minute, batch.latencies
                    failures[(queue, c)] += batch.failures
                    cpu_busy[(queue, c)].append(batch.cpu_busy)
                    if queue == "pair":
                        throughput[c].ours.append(per_minute)
                        latency[c].theirs.append(percentile(latencies, 0.95))
                    else:
                        throughput[c].theirs.append(per_minute)
                        latency[c].ours.append(percentile(latencies, 0.95))
                        solo_latencies[c].append(latencies)
        for c in LEVELS:
            latency[c].figure = pooled_percentile(solo_latencies[c], 0.95)
            throughput[c].note = (
                f"CPU busy (all {cpus} CPUs, every process) during the batches: one worker "
                f"{statistics.median(cpu_busy[('solo', c)]):.0%}, two workers "
                f"{statistics.median(cpu_busy[('pair', c)]):.0%}."
            )
            failed = {q: failures[(q, c)] for q in ("solo", "pair") if failures[(q, c)]}
            if failed:
                throughput[c].note += " Failed executions (not counted): " + "; ".join(
                    f"{'one worker' if q == 'solo' else 'two workers'}: {len(why)} of "
                    f"{totals[c] * count} ({sorted(set(why))[0]})"
                    for q, why in failed.items()
                )
    throughput[max(LEVELS)].note += (
        f" This machine has {cpus} CPUs, shared with the Temporal dev server, the daemon and "
        "this process, and with other work (see the load above): two workers can only beat "
        "one where a core is idle, so the 1.6x target needs cores this run did not have. "
        "Each worker runs at most 50 executions at once; the reference workflow's worker "
        "runs in the benchmark's process."
    )
    return [*throughput.values(), *latency.values()]


def _peak_rss(worker: WorkerProcess, stop: threading.Event, peaks: list[float]) -> None:
    peak = 0.0
    while not stop.wait(0.02):
        peak = max(peak, worker.rss_mib())
    peaks.append(peak)


async def memory_per_execution() -> list[Comparison]:
    count = rounds(3, 2)
    async with running_cluster() as cluster:
        worker = cluster.start_worker("memory")
        sleepy = script_file(cluster.data, step_turns(1, "sleep 3"))
        await _batch(cluster, "memory", sleepy, 2, 2)  # warm-up: imports, first agent
        failed: list[str] = []
        rounds_points: list[list[tuple[float, float]]] = []
        idle = worker.rss_mib()
        for n in range(count):
            points: list[tuple[float, float]] = []
            for c in LEVELS if n % 2 == 0 else tuple(reversed(LEVELS)):
                stop, peaks = threading.Event(), list[float]()
                sampler = threading.Thread(target=_peak_rss, args=(worker, stop, peaks))
                sampler.start()
                failed += (await _batch(cluster, "memory", sleepy, c, c)).failures
                stop.set()
                await asyncio.to_thread(sampler.join)
                points.append((float(c), peaks[0]))
            rounds_points.append(sorted(points))
    per_execution = Comparison(
        "memory per concurrent execution",
        "slope of the worker process's peak RSS over concurrency 1, 10, 50",
        "MiB",
        alternative="(absolute figure)",
        target=Target(5, of="ours", strict=True),
        statistic="slope",
        note=f"a separate `agent-runner worker` process, idle at {idle:.0f} MiB after a warm-up; "
        "each execution runs one `sleep 3` so that all of a batch run at once; RSS sampled "
        "every 20 ms. Peaks by concurrency, per round: "
        + "; ".join(
            ", ".join(f"{int(c)}: {rss:.0f} MiB" for c, rss in points) for points in rounds_points
        )
        + ".",
    )
    if failed:
        per_execution.note += (
            f" {len(failed)} executions failed ({sorted(set(failed))[0]}); their memory "
            "counts until they failed."
        )
    per_execution.ours = [
        (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]) for points in rounds_points
    ]
    per_execution.figure = slope_interval(rounds_points)
    return [per_execution]


def _import_time(module: str) -> float:
    return _timed_in_fresh_interpreter(f"import {module}")


# The first agent a fresh interpreter builds: where the import cost graphton no
# longer pays at `import graphton` is paid, side by side with deepagents alone.
_FIRST_AGENT_OURS = (
    "import tempfile, graphton\n"
    "model = graphton.ScriptedChatModel(script=graphton.Script.from_data([{'text': 'hi'}]))\n"
    "graphton.create_deep_agent(model=model, system_prompt='x', "
    "sandbox=graphton.FilesystemBackend(tempfile.mkdtemp()))"
)
_FIRST_AGENT_DEEPAGENTS = (
    "import tempfile\n"
    "from deepagents import create_deep_agent\n"
    "from deepagents.backends import FilesystemBackend\n"
    "from graphton.testing import Script, ScriptedChatModel\n"
    "model = ScriptedChatModel(script=Script.from_data([{'text': 'hi'}]))\n"
    "create_deep_agent(model=model, system_prompt='x', "
    "backend=FilesystemBackend(root_dir=tempfile.mkdtemp(), virtual_mode=True))"
)


def _timed_in_fresh_interpreter(statements: str) -> float:
    body = "".join(f"    {line}\n" for line in statements.splitlines())
    code = f"import time\nt = time.perf_counter()\nif True:\n{body}print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return float(done.stdout.split()[-1])


def _first_token_of_run(data: Path, script: Path) -> float:
    """`agent-runner run` with no stack running, from the command to the answer in its view."""
    env = {
        **os.environ,
        "MODE": "local",
        "AGENT_RUNNER_DATA_DIR": str(data),
        "SANDBOX_ROOT_DIR": str(data / "workspace"),
        "STIGMER_LLM_PROVIDER": "scripted",
        "STIGMER_LLM_MODEL": str(script),
        "TEMPORAL_SERVICE_ADDRESS": "127.0.0.1:1",  # nothing there: `run` starts its own
        "STIGMER_BACKEND_ENDPOINT": "127.0.0.1:2",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(Path(sys.executable).parent / "agent-runner"),
        "run",
        "--model",
        f"scripted:{script}",
        "hello",
    ]
    start = now()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = None
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if seen is None and "benchmark-answer" in line:
            seen = now() - start
    process.wait(timeout=120)
    if seen is None:
        raise RuntimeError("agent-runner run never showed the answer:\n" + "".join(output[-20:]))
    return seen


async def startup() -> list[Comparison]:
    count = rounds(6, 2)
    imports = Comparison(
        "start-up",
        "`import graphton` in a fresh interpreter",
        "s",
        alternative="`import deepagents` (graphton's floor)",
        target=Target(0.5, of="ours", strict=True),
        statistic="ours, median",
        note="graphton imports each part on first use (deepagents and LangChain with the "
        "first agent, sandbox or event type, the Daytona SDK with the first Daytona backend), "
        "so a program that builds no agent (the CLI's config, validate, skills lint) does not "
        "pay for them; the next row shows where that cost goes.",
    )
    for n in range(count):
        order = [("graphton", imports.ours), ("deepagents", imports.theirs)]
        for module, out in order if n % 2 == 0 else list(reversed(order)):
            out.append(await asyncio.to_thread(_import_time, module))
    imports.figure = median_interval(imports.ours)

    first_agent = Comparison(
        "start-up",
        "a fresh interpreter's first agent: import and build one over a local sandbox",
        "s",
        alternative="deepagents alone: import and build its agent over its FilesystemBackend",
        note="the same scripted model on both sides; ours adds graphton's middleware, masking "
        "and the local sandbox's command guard.",
    )
    for n in range(count):
        pairs = [
            (_FIRST_AGENT_OURS, first_agent.ours),
            (_FIRST_AGENT_DEEPAGENTS, first_agent.theirs),
        ]
        for code, out in pairs if n % 2 == 0 else list(reversed(pairs)):
            out.append(await asyncio.to_thread(_timed_in_fresh_interpreter, code))

    first_poll = Comparison(
        "start-up",
        "worker process start to first poll",
        "s",
        alternative="temporalio-deepagents worker (bench.peer_worker)",
    )
    async with running_cluster() as cluster:
        for n in range(rounds(3, 1)):
            sides = ["ours", "peer"] if n % 2 == 0 else ["peer", "ours"]
            for side in sides:
                if side == "ours":
                    worker = await asyncio.to_thread(cluster.start_worker, f"startup-{n}")
                    first_poll.ours.append(worker.started_s)
                else:
                    worker = await asyncio.to_thread(cluster.start_peer_worker, f"startup-p{n}")
                    first_poll.theirs.append(worker.started_s)
                await asyncio.to_thread(worker.stop)

    first_token = Comparison(
        "start-up",
        "`agent-runner run` with no stack running (scripted model): command to the answer "
        "in its view",
        "s",
        alternative="(absolute figure)",
        note="includes starting the ephemeral stack: the Temporal dev server, the daemon and "
        "both workers. Not on a terminal, the view prints a message once it is whole; the "
        "answer is one short chunk.",
    )
    data = Path(tempfile.mkdtemp(prefix="bench-run-"))
    script = script_file(data, [{"text": "benchmark-answer"}])
    for n in range(rounds(3, 1)):
        first_token.ours.append(await asyncio.to_thread(_first_token_of_run, data / str(n), script))
    return [imports, first_agent, first_poll, first_token]
