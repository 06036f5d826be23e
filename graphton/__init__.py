"""graphton: a declarative config in, a running deep agent over a sandbox and its typed events out.

A library: it knows nothing of Temporal, gRPC or the Stigmer wire contract.
"""

__all__: list[str] = []
