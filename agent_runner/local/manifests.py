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

An agent with a model script at `offline/<slug>.yaml` beside its manifest
plays that script when no live model is set (annotation
`local.stigmer.ai/offline-script`); any other agent needs a live model.
Every Agent gets a default AgentInstance (`<agent id>-default`) unless a
manifest already defines an instance of it. Each folder of the skills folder
holding a `SKILL.md` is a Skill: `spec.skill_md` is that file, the folder
(without `tests/`) zipped deterministically is its artifact, and
`status.version_hash` is the sha256 of that ZIP. Problems are collected and
reported together, every problem of every file, one line each:
`file:line: field as written: what is wrong`.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, message

from agent_runner import wire
from agent_runner.annotations import OFFLINE_SCRIPT_ANNOTATION
from agent_runner.errors import AgentRunnerError
from agent_runner.local.manifest_check import CheckedFile, check_fields

API_VERSION = "agentic.stigmer.ai/v1"
DEFAULT_RESOURCES_DIR = Path(__file__).resolve().parent / "resources"
"""The example set shipped with agent-runner."""
EXAMPLE_SKILLS_DIR = Path(__file__).resolve().parent.parent.parent / "skills"
"""The example skills of the checkout agent-runner runs from, which the example agents use."""
KINDS: dict[str, type[message.Message]] = {
    "Agent": wire.agent.Agent,
    "AgentInstance": wire.agentinstance.AgentInstance,
    "Environment": wire.environment.Environment,
}
SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
SKILL_FILE = "SKILL.md"
SKILL_EXCLUDED_PARTS = frozenset({"tests", "__pycache__"})
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SOURCE_ANNOTATION = "local.stigmer.ai/source"
"""The manifest file a resource came from."""
OFFLINE_FOLDER = "offline"
"""Model scripts next to the manifests: `offline/<agent slug>.yaml`, not manifests."""


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
    """Read every manifest and skill; raise `ManifestError` listing every problem of every file."""
    catalog = Catalog()
    problems: list[str] = []
    if skills_dir is not None and skills_dir.is_dir():
        for folder in sorted(p for p in skills_dir.iterdir() if (p / SKILL_FILE).is_file()):
            _add_skill(catalog, folder, problems)
    examples = resources_dir is not None and resources_dir.resolve() == DEFAULT_RESOURCES_DIR
    if examples and EXAMPLE_SKILLS_DIR.is_dir():
        # The example agents use the example skills; a skill of the user's folder of the
        # same name wins, so that an example skill can be edited in a copy.
        for folder in sorted(EXAMPLE_SKILLS_DIR.iterdir()):
            if (folder / SKILL_FILE).is_file() and folder.name not in catalog.skills:
                _add_skill(catalog, folder, problems)
    files: dict[str, CheckedFile] = {}
    if resources_dir is not None:
        if not resources_dir.is_dir():
            raise ManifestError([f"{resources_dir}: the resources folder does not exist"])
        for path in manifest_files(resources_dir):
            checked = CheckedFile(path)
            files[str(path)] = checked
            _add_manifest(catalog, checked)
            problems += checked.problems
    _check_references(catalog, files, problems)
    if problems:
        raise ManifestError(problems)
    _add_default_instances(catalog)
    return catalog


def manifest_files(resources_dir: Path) -> list[Path]:
    """The manifests of a resources folder: every YAML file but the offline model scripts."""
    found = [*resources_dir.rglob("*.yaml"), *resources_dir.rglob("*.yml")]
    return sorted(
        path for path in found if OFFLINE_FOLDER not in path.relative_to(resources_dir).parts
    )


def offline_script_of(manifest: Path, slug: str) -> Path | None:
    """`offline/<slug>.yaml` next to an agent's manifest: what the scripted model plays for it."""
    script = manifest.parent / OFFLINE_FOLDER / f"{slug}.yaml"
    return script.resolve() if script.is_file() else None


def _add_manifest(catalog: Catalog, checked: CheckedFile) -> None:
    path = checked.path
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        line = getattr(getattr(err, "problem_mark", None), "line", 0) + 1
        checked.problems.append(f"{path}:{line}: (file): cannot be read as YAML: {_first(err)}")
        return
    if not isinstance(node, yaml.MappingNode):
        checked.problems.append(f"{path}:1: (file): expected a mapping of kind, metadata, spec")
        return
    kind_node = next((v for k, v in node.value if k.value == "kind"), None)
    kind = kind_node.value if isinstance(kind_node, yaml.ScalarNode) else None
    if kind not in KINDS:
        line = kind_node.start_mark.line + 1 if kind_node is not None else 1
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(KINDS)}"
        checked.problems.append(f"{path}:{line}: kind: {kind!r} is not a kind; {hint}")
        return
    check_fields(checked, node, KINDS[kind].DESCRIPTOR)
    # Parsed even when fields are wrong, so that the rest of the file and the references
    # to and from it are checked too: every problem is reported at once.
    document = yaml.safe_load(text)
    try:
        resource: Any = json_format.ParseDict(
            {"apiVersion": API_VERSION, **document},
            KINDS[kind](),
            ignore_unknown_fields=bool(checked.problems),
        )
    except json_format.ParseError as err:
        if not checked.problems:
            checked.problems.append(f"{path}:1: {err}")
        return
    _check_resource(catalog, checked, kind, resource)


def _first(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _check_resource(catalog: Catalog, checked: CheckedFile, kind: str, resource: Any) -> None:
    problems = checked.problems
    slug = resource.metadata.slug
    if not SLUG.match(slug):
        what = f"{slug!r} must be" if slug else "required:"
        problems.append(
            f"{checked.where(('metadata', 'slug'))}: {what} lowercase letters, digits and dashes"
        )
    resource.metadata.id = resource.metadata.id or slug
    resource.metadata.name = resource.metadata.name or slug
    tables: dict[str, dict[str, Any]] = {
        "Agent": catalog.agents,
        "AgentInstance": catalog.instances,
        "Environment": catalog.environments,
    }
    table = tables[kind]
    if resource.metadata.id in table:
        other = table[resource.metadata.id].metadata.annotations[SOURCE_ANNOTATION]
        problems.append(
            f"{checked.where(('metadata', 'slug'))}: {kind} {resource.metadata.id!r} is "
            f"defined twice (also in {other})"
        )
    if kind == "Agent" and not resource.spec.instructions.strip():
        problems.append(f"{checked.where(('spec', 'instructions'))}: an agent needs instructions")
    if kind == "AgentInstance" and not resource.spec.agent_id:
        problems.append(f"{checked.where(('spec', 'agent_id'))}: an agent instance names its agent")
    if resource.metadata.id in table:
        return
    # Registered even with problems (which fail the whole load anyway), so that the
    # references to and from it are checked in the same pass.
    table[resource.metadata.id] = resource
    resource.metadata.annotations[SOURCE_ANNOTATION] = str(checked.path)
    if kind == "Agent":
        script = offline_script_of(checked.path, slug)
        if script is not None:
            resource.metadata.annotations[OFFLINE_SCRIPT_ANNOTATION] = str(script)


def _check_references(catalog: Catalog, files: dict[str, CheckedFile], problems: list[str]) -> None:
    def where(resource: Any, *canonical: str | int) -> str:
        return files[str(resource.metadata.annotations[SOURCE_ANNOTATION])].where(canonical)

    skill_slugs = {s.metadata.slug for s in catalog.skills.values()}
    known_skills = ", ".join(sorted(skill_slugs)) or "none"
    environment_slugs = {e.metadata.slug for e in catalog.environments.values()}
    known_environments = ", ".join(sorted(environment_slugs)) or "none"
    for agent in catalog.agents.values():
        for position, ref in enumerate(agent.spec.skill_refs):
            if ref.slug not in skill_slugs:
                problems.append(
                    f"{where(agent, 'spec', 'skill_refs', position, 'slug')}: no skill "
                    f"{ref.slug!r} in the skills folder{_did_you_mean(ref.slug, skill_slugs)} "
                    f"(known: {known_skills})"
                )
        for index, sub_agent in enumerate(agent.spec.sub_agents):
            for position, ref in enumerate(sub_agent.skill_refs):
                if ref.slug not in skill_slugs:
                    field_path = ("spec", "sub_agents", index, "skill_refs", position, "slug")
                    problems.append(
                        f"{where(agent, *field_path)}: no skill {ref.slug!r} in the skills "
                        f"folder{_did_you_mean(ref.slug, skill_slugs)} (known: {known_skills})"
                    )
    for instance in catalog.instances.values():
        agent_id = instance.spec.agent_id
        found = catalog.agents.get(agent_id) or catalog.agent_by_slug(agent_id)
        if found is None:
            agents = {a.metadata.slug for a in catalog.agents.values()}
            problems.append(
                f"{where(instance, 'spec', 'agent_id')}: no agent {agent_id!r}"
                f"{_did_you_mean(agent_id, agents)}"
            )
        else:
            instance.spec.agent_id = found.metadata.id
            if not found.status.default_instance_id:
                found.status.default_instance_id = instance.metadata.id
        for position, ref in enumerate(instance.spec.environment_refs):
            if ref.slug not in environment_slugs:
                problems.append(
                    f"{where(instance, 'spec', 'environment_refs', position, 'slug')}: "
                    f"no environment {ref.slug!r}{_did_you_mean(ref.slug, environment_slugs)} "
                    f"(known: {known_environments})"
                )


def _did_you_mean(wrong: str, known: set[str]) -> str:
    close = difflib.get_close_matches(wrong, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


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
