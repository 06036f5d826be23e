from agent_runner.proto.commons.apiresource import apiresource_pb2 as _apiresource_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentInstance(_message.Message):
    __slots__ = ("api_version", "kind", "metadata", "spec", "status")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    kind: str
    metadata: _apiresource_pb2.ApiResourceMetadata
    spec: AgentInstanceSpec
    status: _apiresource_pb2.ApiResourceAuditStatus
    def __init__(self, api_version: _Optional[str] = ..., kind: _Optional[str] = ..., metadata: _Optional[_Union[_apiresource_pb2.ApiResourceMetadata, _Mapping]] = ..., spec: _Optional[_Union[AgentInstanceSpec, _Mapping]] = ..., status: _Optional[_Union[_apiresource_pb2.ApiResourceAuditStatus, _Mapping]] = ...) -> None: ...

class AgentInstanceSpec(_message.Message):
    __slots__ = ("agent_id", "description", "environment_refs")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_REFS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    description: str
    environment_refs: _containers.RepeatedCompositeFieldContainer[_apiresource_pb2.ApiResourceReference]
    def __init__(self, agent_id: _Optional[str] = ..., description: _Optional[str] = ..., environment_refs: _Optional[_Iterable[_Union[_apiresource_pb2.ApiResourceReference, _Mapping]]] = ...) -> None: ...

class AgentInstanceId(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...
