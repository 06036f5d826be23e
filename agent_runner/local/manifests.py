"""The local daemon's resources: YAML manifests (agents, agent instances, environments)
and skill folders, loaded and cross-checked once at start-up.

A manifest is one resource per file, in the platform's own shape (proto3 JSON
field names, snake_case or lowerCamelCase):

```yaml
kind: Agent                      # Agent | AgentInstance | Environment
metadata:
  slug: demo-coder               # required: [a-z0-9-], unique per kind
  name: Demo coder               # optional: defaults to the slug
  id: demo-coder                 # optional: defaults to the slug
spec:                            # the kind's spec message
  instructions: You write small, tested programs.
  skillRefs: [{slug: workspace-report}]
```

Every Agent gets a default AgentInstance (`<agent id>-default`) unless a
manifest already defines an instance of it. Each folder of the skills folder
holding a `SKILL.md` is a Skill: `spec.skill_md` is that file, the folder
(without `tests/`) zipped deterministically is its artifact, and
`status.version_hash` is the sha256 of that ZIP. Problems are collected and
reported together, one line each: `file: field: what is wrong`.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, message

from agent_runner import wire
from agent_runner.errors import AgentRunnerError

API_VERSION = "agentic.stigmer.ai/v1"
DEFAULT_RESOURCES_DIR = Path(__file__).resolve().parent / "resources"
"""The example set shipped with agent-runner."""
KINDS: dict[str, type[message.Message]] = {
    "Agent": wire.agent.Agent,
    "AgentInstance": wire.agentinstance.AgentInstance,
    "Environment": wire.environment.Environment,
}
SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
SKILL_FILE = "SKILL.md"
SKILL_EXCLUDED_PARTS = frozenset({"tests", "__pycache__"})
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class ManifestError(AgentRunnerError):
    """Resources that cannot be served; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Catalog:
    """Everything the daemon serves that does not change while it runs."""

    agents: dict[str, wire.agent.Agent] = field(default_factory=dict)
    instances: dict[str, wire.agentinstance.AgentInstance] = field(default_factory=dict)
    environments: dict[str, wire.environment.Environment] = field(default_factory=dict)
    skills: dict[str, wire.skill.Skill] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    """Skill ZIPs by `status.artifact_storage_key`."""

    def agent_by_slug(self, slug: str) -> wire.agent.Agent | None:
        return next((a for a in self.agents.values() if a.metadata.slug == slug), None)


def load_catalog(resources_dir: Path | None, skills_dir: Path | None) -> Catalog:
    """Read every manifest and skill; raise `ManifestError` listing every problem."""
    catalog = Catalog()
    problems: list[str] = []
    if skills_dir is not None and skills_dir.is_dir():
        for folder in sorted(p for p in skills_dir.iterdir() if (p / SKILL_FILE).is_file()):
            _add_skill(catalog, folder, problems)
    if resources_dir is not None:
        if not resources_dir.is_dir():
            raise ManifestError([f"{resources_dir}: the resources folder does not exist"])
        for path in sorted([*resources_dir.rglob("*.yaml"), *resources_dir.rglob("*.yml")]):
            _add_manifest(catalog, path, problems)
    _check_references(catalog, problems)
    if problems:
        raise ManifestError(problems)
    _add_default_instances(catalog)
    return catalog


def _add_manifest(catalog: Catalog, path: Path, problems: list[str]) -> None:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        problems.append(f"{path}: (file): cannot be read as YAML: {err}")
        return
    if not isinstance(document, Mapping):
        problems.append(f"{path}: (file): expected a mapping with kind, metadata and spec")
        return
    kind = document.get("kind")
    if kind not in KINDS:
        problems.append(f"{path}: kind: {kind!r} is not one of {', '.join(KINDS)}")
        return
    try:
        resource: Any = json_format.ParseDict(
            {"apiVersion": API_VERSION, **document}, KINDS[kind](), ignore_unknown_fields=False
        )
    except json_format.ParseError as err:
        problems.append(f"{path}: spec: {err}")
        return
    slug = resource.metadata.slug
    if not SLUG.match(slug):
        problems.append(
            f"{path}: metadata.slug: {slug!r} must be lowercase letters, digits and dashes"
        )
        return
    resource.metadata.id = resource.metadata.id or slug
    resource.metadata.name = resource.metadata.name or slug
    tables: dict[str, dict[str, Any]] = {
        "Agent": catalog.agents,
        "AgentInstance": catalog.instances,
        "Environment": catalog.environments,
    }
    table = tables[kind]
    if resource.metadata.id in table:
        problems.append(f"{path}: metadata.id: {kind} {resource.metadata.id!r} is defined twice")
        return
    if kind == "Agent" and not resource.spec.instructions.strip():
        problems.append(f"{path}: spec.instructions: an agent needs instructions")
        return
    if kind == "AgentInstance" and not resource.spec.agent_id:
        problems.append(f"{path}: spec.agent_id: an agent instance names its agent")
        return
    table[resource.metadata.id] = resource
    resource.metadata.annotations["local.stigmer.ai/source"] = str(path)


def _check_references(catalog: Catalog, problems: list[str]) -> None:
    def source(resource: Any) -> str:
        return str(resource.metadata.annotations["local.stigmer.ai/source"])

    skill_slugs = {s.metadata.slug for s in catalog.skills.values()}
    environment_slugs = {e.metadata.slug for e in catalog.environments.values()}
    for agent in catalog.agents.values():
        for position, ref in enumerate(agent.spec.skill_refs):
            if ref.slug not in skill_slugs:
                problems.append(
                    f"{source(agent)}: spec.skill_refs[{position}]: no skill {ref.slug!r} "
                    f"in the skills folder (known: {', '.join(sorted(skill_slugs)) or 'none'})"
                )
        for index, sub_agent in enumerate(agent.spec.sub_agents):
            for position, ref in enumerate(sub_agent.skill_refs):
                if ref.slug not in skill_slugs:
                    problems.append(
                        f"{source(agent)}: spec.sub_agents[{index}].skill_refs[{position}]: "
                        f"no skill {ref.slug!r} in the skills folder"
                    )
    for instance in catalog.instances.values():
        agent_id = instance.spec.agent_id
        found = catalog.agents.get(agent_id) or catalog.agent_by_slug(agent_id)
        if found is None:
            problems.append(f"{source(instance)}: spec.agent_id: no agent {agent_id!r}")
            continue
        instance.spec.agent_id = found.metadata.id
        if not found.status.default_instance_id:
            found.status.default_instance_id = instance.metadata.id
        for position, ref in enumerate(instance.spec.environment_refs):
            if ref.slug not in environment_slugs:
                problems.append(
                    f"{source(instance)}: spec.environment_refs[{position}]: "
                    f"no environment {ref.slug!r}"
                )


def _add_default_instances(catalog: Catalog) -> None:
    for agent in catalog.agents.values():
        if agent.status.default_instance_id:
            continue
        instance_id = f"{agent.metadata.id}-default"
        instance = wire.agentinstance.AgentInstance(api_version=API_VERSION, kind="AgentInstance")
        instance.metadata.id = instance.metadata.slug = instance_id
        instance.metadata.name = f"{agent.metadata.name} (default)"
        instance.spec.agent_id = agent.metadata.id
        catalog.instances[instance_id] = instance
        agent.status.default_instance_id = instance_id


def _add_skill(catalog: Catalog, folder: Path, problems: list[str]) -> None:
    slug = folder.name
    if not SLUG.match(slug):
        problems.append(
            f"{folder}: (folder name): {slug!r} must be lowercase letters, digits and dashes"
        )
        return
    try:
        skill, artifact = skill_from_folder(folder)
    except (OSError, UnicodeDecodeError) as err:
        problems.append(f"{folder / SKILL_FILE}: (file): cannot be read: {err}")
        return
    catalog.skills[slug] = skill
    catalog.artifacts[skill.status.artifact_storage_key] = artifact


def skill_from_folder(folder: Path) -> tuple[wire.skill.Skill, bytes]:
    """A skill folder as the platform serves it: the Skill resource and its ZIP artifact."""
    slug = folder.name
    artifact = zip_skill_folder(folder)
    version_hash = hashlib.sha256(artifact).hexdigest()
    skill = wire.skill.Skill(api_version=API_VERSION, kind="Skill")
    skill.metadata.id = skill.metadata.slug = skill.metadata.name = slug
    skill.spec.skill_md = (folder / SKILL_FILE).read_text(encoding="utf-8")
    skill.status.version_hash = version_hash
    skill.status.artifact_storage_key = f"skills/{slug}/{version_hash}.zip"
    skill.status.state = wire.skill.SKILL_STATE_READY
    return skill, artifact


def zip_skill_folder(folder: Path) -> bytes:
    """The folder as a ZIP whose bytes depend only on file names, contents and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if (
                not path.is_file()
                or path.is_symlink()
                or SKILL_EXCLUDED_PARTS & set(relative.parts)
                or any(part.startswith(".") for part in relative.parts)
            ):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
