"""The integration fixtures (Temporal dev server, daemon, worker) serve the chaos tests too."""

from tests.integration.conftest import stack, temporal_server

__all__ = ["stack", "temporal_server"]
