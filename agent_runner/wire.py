"""Short names for the generated wire modules, and a registry of every message in them.

Importing this module registers every message of the contract with protobuf's
symbol database, which the payload converter uses to decode by `messageType`.
"""

from __future__ import annotations

from agent_runner.proto.agentic.agent.v1 import agent_pb2 as agent
from agent_runner.proto.agentic.agent.v1 import agent_pb2_grpc as agent_grpc
from agent_runner.proto.agentic.agentexecution.v1 import agentexecution_pb2 as agentexecution
from agent_runner.proto.agentic.agentexecution.v1 import (
    agentexecution_pb2_grpc as agentexecution_grpc,
)
from agent_runner.proto.agentic.agentinstance.v1 import agentinstance_pb2 as agentinstance
from agent_runner.proto.agentic.agentinstance.v1 import (
    agentinstance_pb2_grpc as agentinstance_grpc,
)
from agent_runner.proto.agentic.environment.v1 import environment_pb2 as environment
from agent_runner.proto.agentic.environment.v1 import environment_pb2_grpc as environment_grpc
from agent_runner.proto.agentic.executioncontext.v1 import (
    executioncontext_pb2 as executioncontext,
)
from agent_runner.proto.agentic.session.v1 import session_pb2 as session
from agent_runner.proto.agentic.session.v1 import session_pb2_grpc as session_grpc
from agent_runner.proto.agentic.skill.v1 import skill_pb2 as skill
from agent_runner.proto.agentic.skill.v1 import skill_pb2_grpc as skill_grpc
from agent_runner.proto.commons.apiresource import apiresource_pb2 as apiresource
from agent_runner.proto.commons.apiresource.apiresourcekind import (
    apiresourcekind_pb2 as apiresourcekind,
)

MESSAGE_MODULES = (
    agent,
    agentexecution,
    agentinstance,
    environment,
    executioncontext,
    session,
    skill,
    apiresource,
    apiresourcekind,
)

__all__ = [
    "MESSAGE_MODULES",
    "agent",
    "agent_grpc",
    "agentexecution",
    "agentexecution_grpc",
    "agentinstance",
    "agentinstance_grpc",
    "apiresource",
    "apiresourcekind",
    "environment",
    "environment_grpc",
    "executioncontext",
    "session",
    "session_grpc",
    "skill",
    "skill_grpc",
]
