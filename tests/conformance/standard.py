"""Shared by the standard-suite conformance tests of each backend.

deepagents' sandbox providers prove themselves with `SandboxIntegrationTests`
from `langchain-tests`. Where the suite and deepagents 0.7 disagree with each
other, a case is marked as an expected failure with the reason, strictly: a case
that starts passing, or any other case that fails, turns the run red.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any, TypeVar

import pytest

SUITE_VERSION = version("langchain-tests")

T = TypeVar("T", bound=type)


def expected_failures(reasons: Mapping[str, str]) -> Callable[[T], T]:
    """Mark the named inherited cases of a suite subclass as strict expected failures.

    The case is wrapped in the subclass (never marked in place: the suite's own
    function is shared by every subclass).
    """

    def mark(cls: T) -> T:
        for name, reason in reasons.items():
            case = getattr(cls, name)  # AttributeError: the suite no longer has it
            setattr(cls, name, _wrapped(case, reason))
        return cls

    return mark


def _wrapped(case: Callable[..., Any], reason: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(case):

        @functools.wraps(case)
        async def async_case(*args: Any, **kwargs: Any) -> Any:
            return await case(*args, **kwargs)

        wrapper: Callable[..., Any] = async_case
    else:

        @functools.wraps(case)
        def sync_case(*args: Any, **kwargs: Any) -> Any:
            return case(*args, **kwargs)

        wrapper = sync_case
    return pytest.mark.xfail(reason=reason, strict=True)(wrapper)


# Where the suite and deepagents 0.7 disagree. deepagents' own backends (its
# FilesystemBackend, which ours extends, and BaseSandbox) do what deepagents'
# middleware and prompts expect; these cases assert the other side.
GLOB_RELATIVE = (
    "the suite expects glob to answer paths relative to the searched folder; "
    "deepagents 0.7 answers absolute paths (its glob tool shows them to the model as such)"
)
WRITE_OVERWRITES = (
    "the suite expects write to refuse an existing file; deepagents 0.7's write "
    "overwrites (its write_file tool documents it)"
)
LS_TRAILING_SLASH = (
    "the suite expects folders listed without a trailing '/'; deepagents 0.7's "
    "FilesystemBackend lists folders with one"
)
RELATIVE_PATHS = (
    "the suite expects relative paths to be refused as invalid_path; deepagents "
    "0.7's virtual filesystem reads them as relative to the root"
)
GLOB_FILES_ONLY = (
    "the suite expects glob to match folders too; deepagents 0.7's glob (BaseSandbox "
    "and FilesystemBackend alike) answers files only"
)
EDIT_MESSAGE = (
    "the suite expects the word 'multiple' in the error of an ambiguous edit; "
    'deepagents 0.7\'s shared replacement says "appears N times"'
)
PAGE_TRAILING_NEWLINE = (
    "the suite expects a page of a paginated read without its last line's newline; "
    "deepagents 0.7's shared slicer keeps it (edit relies on it)"
)
