"""A manifest checked against its protobuf message, field by field, before it is parsed.

protobuf's own parser stops at the first problem and names fields as the
.proto spells them. This walks the YAML nodes instead, so that every problem
of a file is found at once, each with its line, the path as the user wrote it
(`spec.skillRefs[0].slug`, not `spec.skill_refs`) and, for an unknown field,
the known field it most likely meant.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.descriptor import Descriptor, FieldDescriptor

CanonicalPath = tuple[str | int, ...]
"""A field's place with proto field names and list indexes: `("spec", "skill_refs", 0)`."""

# Messages protobuf's JSON parser reads in their own shapes (any value, a timestamp, ...).
_OPAQUE_MESSAGES = frozenset(
    {
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.Any",
        "google.protobuf.FieldMask",
    }
)
_NUMBERS = frozenset(
    {
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
        FieldDescriptor.CPPTYPE_DOUBLE,
        FieldDescriptor.CPPTYPE_FLOAT,
    }
)


@dataclass
class CheckedFile:
    """What the check learnt about one file: its problems, and where each field is written."""

    path: Path
    problems: list[str] = field(default_factory=list)
    places: dict[CanonicalPath, tuple[str, int]] = field(default_factory=dict)
    """Each field's path as written and its line, by canonical path."""

    def where(self, canonical: CanonicalPath) -> str:
        """`file:line: path as written` of a field, or of its nearest written parent."""
        for end in range(len(canonical), 0, -1):
            place = self.places.get(canonical[:end])
            if place is not None:
                written, line = place
                rest = _spell(canonical[end:])
                return f"{self.path}:{line}: {written}{rest}"
        return f"{self.path}:1: {_spell(canonical).lstrip('.')}"

    def add(self, line: int, written: str, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {written}: {message}")


def _spell(canonical: CanonicalPath) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in canonical)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def check_fields(
    checked: CheckedFile,
    node: yaml.Node,
    descriptor: Descriptor | Any,
    *,
    canonical: CanonicalPath = (),
    written: str = "",
) -> None:
    """Check a mapping node against `descriptor`, recording problems and places."""
    if not isinstance(node, yaml.MappingNode):
        checked.add(_line(node), written or "(file)", f"expected a mapping of {descriptor.name}")
        return
    by_name = {f.name: f for f in descriptor.fields}
    by_name.update({f.json_name: f for f in descriptor.fields})
    for key_node, value_node in node.value:
        key = str(key_node.value)
        here = f"{written}.{key}" if written else key
        found = by_name.get(key)
        if found is None:
            checked.add(_line(key_node), here, _unknown(key, descriptor))
            continue
        path = (*canonical, found.name)
        checked.places[path] = (here, _line(key_node))
        _check_value(checked, value_node, found, path, here)


def _unknown(key: str, descriptor: Descriptor) -> str:
    snake = "_" in key
    names = [f.name if snake else f.json_name for f in descriptor.fields]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not close:  # a spelling of the other style: skill_ref for skillRefs
        others = {(f.json_name if snake else f.name): f for f in descriptor.fields}
        match = difflib.get_close_matches(key, list(others), n=1, cutoff=0.6)
        close = [others[match[0]].name if snake else others[match[0]].json_name] if match else []
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(names) or 'none'}"
    return f"unknown field; {hint}"


def _check_value(
    checked: CheckedFile, node: yaml.Node, found: FieldDescriptor, path: CanonicalPath, here: str
) -> None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return  # an empty value: the field's default
    message = found.message_type
    if message is not None and message.GetOptions().map_entry:
        if not isinstance(node, yaml.MappingNode):
            checked.add(_line(node), here, "expected a mapping")
            return
        value_field = message.fields_by_name["value"]
        for key_node, value_node in node.value:
            entry = f"{here}.{key_node.value}"
            entry_path = (*path, str(key_node.value))
            checked.places[entry_path] = (entry, _line(key_node))
            _check_single(checked, value_node, value_field, entry_path, entry)
        return
    if found.is_repeated:
        if not isinstance(node, yaml.SequenceNode):
            checked.add(_line(node), here, "expected a list")
            return
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            checked.places[item_path] = (f"{here}[{index}]", _line(item))
            _check_single(checked, item, found, item_path, f"{here}[{index}]")
        return
    _check_single(checked, node, found, path, here)


def _check_single(
    checked: CheckedFile, node: yaml.Node, found: FieldDescriptor, path: CanonicalPath, here: str
) -> None:
    message = found.message_type
    if message is not None:
        if message.full_name not in _OPAQUE_MESSAGES:
            check_fields(checked, node, message, canonical=path, written=here)
        return
    if not isinstance(node, yaml.ScalarNode):
        checked.add(_line(node), here, f"expected {_kind(found)}, not a mapping or a list")
        return
    if found.enum_type is not None:
        names = [value.name for value in found.enum_type.values]
        if node.value not in names and not node.value.lstrip("-").isdigit():
            close = difflib.get_close_matches(node.value, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(names)}"
            checked.add(_line(node), here, f"{node.value!r} is not a value of it; {hint}")
    elif found.cpp_type in _NUMBERS and node.tag == "tag:yaml.org,2002:str" and node.style is None:
        checked.add(_line(node), here, f"expected {_kind(found)}, not {node.value!r}")


def _kind(found: FieldDescriptor) -> str:
    if found.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return "true or false"
    if found.cpp_type in _NUMBERS:
        return "a number"
    return "a text value"


__all__ = ["CanonicalPath", "CheckedFile", "check_fields"]
