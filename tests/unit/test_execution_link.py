"""The link to an execution's workflow in the Temporal web UI."""

from __future__ import annotations

from agent_runner.local.stack import execution_link


def test_the_link_names_the_namespace_and_the_workflow() -> None:
    assert (
        execution_link("http://127.0.0.1:8233/", "default", "agent-execution-aex-1")
        == "http://127.0.0.1:8233/namespaces/default/workflows/agent-execution-aex-1"
    )


def test_ids_with_characters_a_path_cannot_hold_are_quoted() -> None:
    link = execution_link("http://127.0.0.1:8233", "team a", "run/1?x=#2")
    assert link == "http://127.0.0.1:8233/namespaces/team%20a/workflows/run%2F1%3Fx%3D%232"


def test_no_web_ui_no_link() -> None:
    assert execution_link(None, "default", "w") is None
