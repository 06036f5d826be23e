from agent_runner.proto.commons.apiresource import apiresource_pb2 as _apiresource_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SkillState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SKILL_STATE_UNSPECIFIED: _ClassVar[SkillState]
    SKILL_STATE_UPLOADING: _ClassVar[SkillState]
    SKILL_STATE_READY: _ClassVar[SkillState]
    SKILL_STATE_FAILED: _ClassVar[SkillState]
SKILL_STATE_UNSPECIFIED: SkillState
SKILL_STATE_UPLOADING: SkillState
SKILL_STATE_READY: SkillState
SKILL_STATE_FAILED: SkillState

class Skill(_message.Message):
    __slots__ = ("api_version", "kind", "metadata", "spec", "status")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    kind: str
    metadata: _apiresource_pb2.ApiResourceMetadata
    spec: SkillSpec
    status: SkillStatus
    def __init__(self, api_version: _Optional[str] = ..., kind: _Optional[str] = ..., metadata: _Optional[_Union[_apiresource_pb2.ApiResourceMetadata, _Mapping]] = ..., spec: _Optional[_Union[SkillSpec, _Mapping]] = ..., status: _Optional[_Union[SkillStatus, _Mapping]] = ...) -> None: ...

class SkillSpec(_message.Message):
    __slots__ = ("skill_md", "tag")
    SKILL_MD_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    skill_md: str
    tag: str
    def __init__(self, skill_md: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class SkillStatus(_message.Message):
    __slots__ = ("version_hash", "artifact_storage_key", "state", "audit")
    VERSION_HASH_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_STORAGE_KEY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    version_hash: str
    artifact_storage_key: str
    state: SkillState
    audit: _apiresource_pb2.ApiResourceAudit
    def __init__(self, version_hash: _Optional[str] = ..., artifact_storage_key: _Optional[str] = ..., state: _Optional[_Union[SkillState, str]] = ..., audit: _Optional[_Union[_apiresource_pb2.ApiResourceAudit, _Mapping]] = ...) -> None: ...

class SkillId(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class GetArtifactRequest(_message.Message):
    __slots__ = ("artifact_storage_key",)
    ARTIFACT_STORAGE_KEY_FIELD_NUMBER: _ClassVar[int]
    artifact_storage_key: str
    def __init__(self, artifact_storage_key: _Optional[str] = ...) -> None: ...

class GetArtifactResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: bytes
    def __init__(self, artifact: _Optional[bytes] = ...) -> None: ...
