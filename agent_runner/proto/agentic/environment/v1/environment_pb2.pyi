from agent_runner.proto.commons.apiresource import apiresource_pb2 as _apiresource_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Environment(_message.Message):
    __slots__ = ("api_version", "kind", "metadata", "spec", "status")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    kind: str
    metadata: _apiresource_pb2.ApiResourceMetadata
    spec: EnvironmentSpec
    status: _apiresource_pb2.ApiResourceAuditStatus
    def __init__(self, api_version: _Optional[str] = ..., kind: _Optional[str] = ..., metadata: _Optional[_Union[_apiresource_pb2.ApiResourceMetadata, _Mapping]] = ..., spec: _Optional[_Union[EnvironmentSpec, _Mapping]] = ..., status: _Optional[_Union[_apiresource_pb2.ApiResourceAuditStatus, _Mapping]] = ...) -> None: ...

class EnvironmentSpec(_message.Message):
    __slots__ = ("description", "data")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: EnvironmentValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[EnvironmentValue, _Mapping]] = ...) -> None: ...
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    description: str
    data: _containers.MessageMap[str, EnvironmentValue]
    def __init__(self, description: _Optional[str] = ..., data: _Optional[_Mapping[str, EnvironmentValue]] = ...) -> None: ...

class EnvironmentValue(_message.Message):
    __slots__ = ("value", "is_secret", "description")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    IS_SECRET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    value: str
    is_secret: bool
    description: str
    def __init__(self, value: _Optional[str] = ..., is_secret: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...
