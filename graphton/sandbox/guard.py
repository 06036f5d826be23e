"""No command outlives the process that started it, however that process dies.

Commands run in their own process group (so a timeout can kill all they started),
which also means that when the worker dies they are re-parented to PID 1 and run
on. Two mechanisms end them:

- **A watchdog process** per backend, in its own session, whose stdin is a pipe
  only this process holds. When this process dies, by any signal, SIGKILL
  included, the kernel closes the pipe; the watchdog reads end-of-file and kills
  every process that carries the backend's tag in its environment (every command
  and all it started, children that left the command's process group included;
  a process that clears its own environment escapes). Closing the guard on
  purpose does the same. Processes are found by their tag, never by a process
  group id alone: ids are reused (pid_max can be as low as 32768).
- **A record on disk** per backend that has run a command, in the sandbox's
  `.agent-runner/commands/` folder, naming the owner (pid and start time) and the
  tag; written before the first command, removed once `close` has ended them all
  (one record, not one per command: a command pays no file I/O for it).
  Opening a backend on the same root reaps what an owner that is gone left
  behind, and waits until it is gone, so that a retry never runs beside the
  command of the attempt it replaces (should the watchdog itself have died too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

TAG_VARIABLE = "GRAPHTON_COMMAND_OWNER"
"""Set in every command's environment; inherited by all it starts."""
RECORDS_FOLDER = ".agent-runner/commands"
REAP_WAIT_S = 10.0
"""How long opening a backend waits for a dead owner's processes to be gone."""

_WATCHDOG = r"""
import os, signal, sys, time
mark = sys.argv[1].encode()
while os.read(0, 4096):  # only end-of-file is expected: its owner is gone, or closed it
    pass

def tagged():
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X"):
                    continue
            with open("/proc/%s/environ" % name, "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.append(int(name))
        except (OSError, IndexError):
            pass
    return found

for _ in range(100):
    left = tagged()
    if not left:
        break
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.05)
"""


class CommandGuard:
    """Ties the commands of one backend to this process's life (see the module doc)."""

    def __init__(self, root: Path, tag: str) -> None:
        self.tag = tag
        self._records = root / RECORDS_FOLDER
        self._lock = threading.Lock()  # the blocking `execute` runs commands from threads
        self._pipe: int | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._warned: set[str] = set()
        self._recorded = False

    def arm(self) -> None:
        """Before each command: make sure the watchdog runs and this backend is recorded.

        Costs nothing once both are done, so a command pays no file I/O of its own.
        Neither failing stops the command: it is still killed on timeout, on
        cancellation and by `close`; the failure is logged once.
        """
        with self._lock:
            if self._watchdog is None or self._watchdog.poll() is not None:
                try:
                    self._start_watchdog()
                except OSError as err:
                    self._warn_once("watchdog", f"its commands' watchdog could not start: {err}")
            if not self._recorded:
                self._recorded = self._write_record()

    def close(self) -> None:
        """Kill whatever the backend's commands left running; return when it is gone."""
        with self._lock:
            pipe, self._pipe = self._pipe, None
            watchdog, self._watchdog = self._watchdog, None
            recorded, self._recorded = self._recorded, False
        if pipe is not None:
            os.close(pipe)
        if watchdog is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                watchdog.wait(timeout=REAP_WAIT_S)
        if recorded:  # only once its commands are gone: a crash before leaves it for a reap
            with contextlib.suppress(OSError):
                self._record_path.unlink(missing_ok=True)

    @property
    def _record_path(self) -> Path:
        return self._records / f"{self.tag}.json"

    def _write_record(self) -> bool:
        record = {"tag": self.tag, "owner": _identity(os.getpid())}
        try:
            self._records.mkdir(parents=True, exist_ok=True)
            self._record_path.write_text(json.dumps(record))
        except OSError as err:
            self._warn_once("record", f"running commands cannot be recorded: {err}")
            return False
        return True

    def _start_watchdog(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        read_end, write_end = os.pipe()  # neither is inherited by other children
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, f"{TAG_VARIABLE}={self.tag}"],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a kill of this process's group spares it
            )
        except OSError:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._pipe = write_end

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("sandbox %s: %s", self._records.parent.parent, message)


def reap_leftovers(root: Path) -> int:
    """Kill what commands of owners that are gone left running under `root`; wait till it is gone.

    Returns how many processes were killed. Records of owners still alive are left alone.
    """
    folder = root / RECORDS_FOLDER
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError:
        return 0
    orphan_tags: set[str] = set()
    for path in paths:
        try:
            record = json.loads(path.read_text())
            owner, tag = record["owner"], str(record["tag"])
            alive = owner is not None and _identity(int(owner[0])) == owner
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            path.unlink(missing_ok=True)
            continue
        if alive:
            continue  # its owner still runs and answers for it
        orphan_tags.add(tag)
        path.unlink(missing_ok=True)
    if not orphan_tags:
        return 0
    killed: set[int] = set()
    deadline = time.monotonic() + REAP_WAIT_S
    while left := [pid for pid in _processes() if _tag_of(pid) in orphan_tags]:
        if time.monotonic() > deadline:
            log.warning("sandbox %s: %d leftover processes would not die", root, len(left))
            break
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.05)
    if killed:
        log.warning(
            "sandbox %s: killed %d processes left running by commands of a worker that is gone",
            root,
            len(killed),
        )
    return len(killed)


def _identity(pid: int) -> list[int] | None:
    """A process as (pid, start time): unlike a pid alone, never the identity of a newer one."""
    if not Path("/proc/self/stat").exists():  # no /proc (macOS): the pid alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return [pid, 0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return [pid, int(fields[19])]


def _processes() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    return _identity(pid) is not None


def _tag_of(pid: int) -> str | None:
    if not _running(pid):
        return None
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{TAG_VARIABLE}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None
