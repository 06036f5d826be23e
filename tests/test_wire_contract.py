"""The generated stubs match the Stigmer wire contract exactly (tests/contract/ is a copy
of ../shared/contract: TABLES.md dumped from the protocol's descriptors, and vectors)."""

from __future__ import annotations

import base64
import filecmp
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.protobuf import descriptor, descriptor_pool, json_format, message_factory

from agent_runner import wire
from agent_runner.proto import codegen
from tests.conftest import CONTRACT_DIR

VECTORS = sorted((CONTRACT_DIR / "vectors").glob("*.json"))
TABLES = (CONTRACT_DIR / "TABLES.md").read_text()

SCALAR_NAMES = {
    descriptor.FieldDescriptor.TYPE_STRING: "string",
    descriptor.FieldDescriptor.TYPE_BOOL: "bool",
    descriptor.FieldDescriptor.TYPE_BYTES: "bytes",
    descriptor.FieldDescriptor.TYPE_INT32: "int32",
    descriptor.FieldDescriptor.TYPE_INT64: "int64",
    descriptor.FieldDescriptor.TYPE_DOUBLE: "double",
}


def message_class(full_name: str) -> type:
    assert wire.MESSAGE_MODULES  # importing wire registers every message
    found = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(found)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda p: p.stem)
def test_vector_binary_parses_to_its_json(vector: Path) -> None:
    data = json.loads(vector.read_text())
    parsed = message_class(data["messageType"]).FromString(base64.b64decode(data["binary_b64"]))
    assert json_format.MessageToDict(parsed) == data["json"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda p: p.stem)
def test_vector_json_serializes_to_its_bytes(vector: Path) -> None:
    data = json.loads(vector.read_text())
    parsed = json_format.ParseDict(data["json"], message_class(data["messageType"])())
    assert parsed.SerializeToString(deterministic=True) == base64.b64decode(data["binary_b64"])


def test_vectors_cover_the_top_level_messages() -> None:
    names = {json.loads(p.read_text())["messageType"].rsplit(".", 1)[1] for p in VECTORS}
    assert {"AgentExecution", "AgentExecutionStatus", "Session", "Agent", "Skill"} <= names


@dataclass(frozen=True)
class FieldRow:
    number: int
    name: str
    json_name: str
    type: str
    label: str
    oneof: str


def table_messages() -> dict[str, list[FieldRow]]:
    messages: dict[str, list[FieldRow]] = {}
    for block in re.split(r"^### ", TABLES, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        rows = []
        for line in body.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and cells[0].isdigit():
                rows.append(FieldRow(int(cells[0]), *cells[1:]))
        messages[name.strip()] = rows
    return messages


def field_type(field: descriptor.FieldDescriptor) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = (
            field.message_type.fields_by_name["key"],
            field.message_type.fields_by_name["value"],
        )
        return f"map<{field_type(key)}, {field_type(value)}>"
    if field.message_type is not None:
        return field.message_type.full_name
    if field.enum_type is not None:
        return field.enum_type.full_name
    return SCALAR_NAMES[field.type]


@pytest.mark.parametrize("full_name", sorted(table_messages()))
def test_message_fields_match_the_contract_table(full_name: str) -> None:
    found = message_class(full_name).DESCRIPTOR
    expected = table_messages()[full_name]
    actual = [
        FieldRow(
            number=f.number,
            name=f.name,
            json_name=f.json_name,
            type=field_type(f),
            label="repeated" if f.is_repeated and not field_type(f).startswith("map<") else "",
            oneof=f.containing_oneof.name if f.containing_oneof else "",
        )
        for f in found.fields
    ]
    assert sorted(actual, key=lambda r: r.number) == sorted(expected, key=lambda r: r.number)


def table_enums() -> dict[str, list[tuple[int, str]]]:
    enums = {}
    for match in re.finditer(r"^- \*\*([\w.]+)\*\*: (.+)$", TABLES, flags=re.M):
        values = [v.strip().split(" ", 1) for v in match.group(2).split(",")]
        enums[match.group(1)] = [(int(n), name) for n, name in values]
    return enums


@pytest.mark.parametrize("full_name", sorted(table_enums()))
def test_enum_values_match_the_contract_table(full_name: str) -> None:
    found = descriptor_pool.Default().FindEnumTypeByName(full_name)
    assert [(v.number, v.name) for v in found.values] == table_enums()[full_name]


def table_rpcs() -> list[tuple[str, str, str, str, bool]]:
    services = TABLES.split("## Services", 1)[1]
    rpcs = []
    for line in services.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("ai."):
            rpcs.append((cells[0], cells[1], cells[2], cells[3], cells[4] == "server"))
    return rpcs


def test_the_contract_lists_fifteen_rpcs() -> None:
    assert len(table_rpcs()) == 15


@pytest.mark.parametrize("rpc", table_rpcs(), ids=lambda r: f"{r[0].rsplit('.', 1)[1]}.{r[1]}")
def test_rpc_exists_with_its_types_and_streaming_kind(
    rpc: tuple[str, str, str, str, bool],
) -> None:
    service_name, method_name, request, response, server_streaming = rpc
    service = descriptor_pool.Default().FindServiceByName(service_name)
    method = service.methods_by_name[method_name]
    assert method.input_type.full_name == request
    assert method.output_type.full_name == response
    assert method.server_streaming is server_streaming
    assert method.client_streaming is False


def test_stub_modules_import_without_a_top_level_ai_package() -> None:
    import importlib.util

    assert importlib.util.find_spec("ai") is None
    assert wire.agentexecution.AgentExecution.DESCRIPTOR.full_name.startswith("ai.stigmer.")


def test_regenerating_the_stubs_changes_nothing(tmp_path: Path) -> None:
    codegen.generate(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated, "codegen wrote nothing"
    committed_root = codegen.INCLUDE_ROOT
    differing = [
        str(path)
        for path in generated
        if not (committed_root / path).exists()
        or not filecmp.cmp(tmp_path / path, committed_root / path, shallow=False)
    ]
    assert differing == []
    committed = {
        p.relative_to(committed_root)
        for p in codegen.PROTO_DIR.rglob("*_pb2*.py*")
        if p.suffix in (".py", ".pyi")
    }
    assert committed == set(generated), "stale stub files without a .proto source"
