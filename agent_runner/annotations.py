"""Annotations the local daemon puts on the resources it serves, read by the runner."""

from __future__ import annotations

from typing import Final

OFFLINE_SCRIPT_ANNOTATION: Final = "local.stigmer.ai/offline-script"
"""On an Agent: the model script the scripted provider plays for it when no live model
is set (the local example agents each have one; other agents need a live model)."""

__all__ = ["OFFLINE_SCRIPT_ANNOTATION"]
