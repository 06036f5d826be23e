"""Hot reload for `agent-runner up`: manifests and skills picked up as they change.

The folders are polled (a fingerprint of every file's name, size and mtime),
which needs no watcher library and behaves the same on every filesystem. A
changed set is loaded whole and served only when it is valid: a broken edit is
reported, with every problem, and the last good set stays served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from agent_runner.local.daemon import LocalDaemon
from agent_runner.local.manifests import Catalog, ManifestError, load_catalog

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5

Fingerprint = frozenset[tuple[str, int, int]]


def fingerprint(folders: list[Path]) -> Fingerprint:
    entries = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            try:
                stat = path.stat()
            except OSError:  # removed while we looked: the next poll sees the change
                continue
            entries.add((str(path), stat.st_size, stat.st_mtime_ns))
    return frozenset(entries)


class CatalogWatcher:
    """Reloads the daemon's catalog when a file under the watched folders changes."""

    def __init__(
        self,
        daemon: LocalDaemon,
        resources_dir: Path | None,
        skills_dir: Path | None,
        say: Callable[[str], None],
    ) -> None:
        self._daemon = daemon
        self._resources_dir = resources_dir
        self._skills_dir = skills_dir
        self._folders = [f for f in (resources_dir, skills_dir) if f is not None]
        self._say = say

    async def run(self, stop: asyncio.Event) -> None:
        seen = await asyncio.to_thread(fingerprint, self._folders)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_INTERVAL_S)
            current = await asyncio.to_thread(fingerprint, self._folders)
            if current != seen:
                seen = current
                await self.reload()

    async def reload(self) -> Catalog | None:
        try:
            catalog = await asyncio.to_thread(load_catalog, self._resources_dir, self._skills_dir)
        except ManifestError as err:
            self._say(
                f"reload: {len(err.problems)} problem(s); still serving the last good set:\n"
                + "\n".join(f"  {problem}" for problem in err.problems)
            )
            return None
        self._daemon.replace_catalog(catalog)
        agents = ", ".join(sorted(a.metadata.slug for a in catalog.agents.values()))
        self._say(f"reloaded: agents {agents or 'none'}; {len(catalog.skills)} skills")
        return catalog


__all__ = ["CatalogWatcher", "fingerprint"]
