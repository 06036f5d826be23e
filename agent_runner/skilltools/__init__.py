"""Tools for skill authors: `agent-runner skills lint` and `agent-runner skills test`."""
