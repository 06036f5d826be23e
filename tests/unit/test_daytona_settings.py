"""Daytona settings from the environment, and environment names a sandbox can take."""

from __future__ import annotations

import pytest

from agent_runner import wire
from agent_runner.config import Config
from agent_runner.environment import merge_environment
from agent_runner.errors import ConfigError

BASE = {"MODE": "local", "SANDBOX_TYPE": "daytona", "DAYTONA_API_KEY": "k"}


def test_daytona_defaults_use_the_sandboxs_own_folder_and_daytonas_intervals() -> None:
    daytona = Config.load_from_env(BASE).daytona
    assert daytona.work_dir is None
    assert (daytona.auto_stop_minutes, daytona.auto_archive_minutes) == (15, 7 * 24 * 60)
    assert dict(daytona.labels) == {}


def test_daytona_intervals_work_dir_and_labels_are_read() -> None:
    daytona = Config.load_from_env(
        {
            **BASE,
            "DAYTONA_WORK_DIR": "/workspace",
            "DAYTONA_AUTO_STOP_MINUTES": "0",
            "DAYTONA_AUTO_ARCHIVE_MINUTES": "60",
            "DAYTONA_SANDBOX_LABELS": "team=ml, env=prod",
        }
    ).daytona
    assert daytona.work_dir == "/workspace"
    assert (daytona.auto_stop_minutes, daytona.auto_archive_minutes) == (0, 60)
    assert dict(daytona.labels) == {"team": "ml", "env": "prod"}


def test_bad_daytona_settings_are_named() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.load_from_env(
            {**BASE, "DAYTONA_AUTO_STOP_MINUTES": "soon", "DAYTONA_SANDBOX_LABELS": "team"}
        )
    message = str(raised.value)
    assert "DAYTONA_AUTO_STOP_MINUTES='soon'" in message
    assert "DAYTONA_SANDBOX_LABELS='team'" in message and "key=value" in message


def test_names_a_shell_cannot_export_are_left_out_with_a_warning() -> None:
    agent = wire.agent.Agent()
    for name, value in {"my-key": "a", "GOOD_NAME": "b", "2FAST": "c"}.items():
        agent.spec.env_spec.data[name].value = value
    agent.spec.env_spec.data["my-key"].is_secret = True
    merged = merge_environment(agent, [], {})
    assert dict(merged.values) == {"GOOD_NAME": "b"}
    assert merged.refused_names == {"my-key", "2FAST"}
    assert "a" in merged.secret_values  # still masked wherever it shows
    [first, second] = merged.warnings()
    assert "'2FAST' was left out" in first and "'my-key' was left out" in second
    assert "'my_key'" in second
