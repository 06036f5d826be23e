"""Local state only its owner can read: folders 0700, files 0600.

The daemon's database, checkpoints, claim-check blobs and logs hold users'
conversations and, before masking reaches them, whatever an agent saw. They are
created private whatever the umask, and a folder of ours that exists with wider
permissions is narrowed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """`path` (and missing parents) created; `path` itself made 0700 when it is ours."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _narrow(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """`path` created empty when missing, in a private folder, and made 0600 when ours."""
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    os.close(descriptor)
    _narrow(path, FILE_MODE)
    return path


def _narrow(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o777 != mode:
        with contextlib.suppress(PermissionError):
            path.chmod(mode)
