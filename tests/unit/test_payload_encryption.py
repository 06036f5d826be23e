"""Payload encryption (AES-GCM) composed with the claim check, and private local state."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from agent_runner import wire
from agent_runner.claimcheck import ClaimCheckCodec, FilesystemBlobStore, payload_codec
from agent_runner.config import Config
from agent_runner.errors import ConfigError
from agent_runner.local.store import Store
from agent_runner.logs import configure_logging
from agent_runner.payload_encryption import (
    ENCODING,
    KEY_ID,
    NONCE_BYTES,
    ComposedCodec,
    EncryptionCodec,
    PayloadDecryptionError,
    key_id,
)
from agent_runner.secrets import Secret

pytestmark = pytest.mark.anyio

RAW_KEY = bytes(range(32))
KEY = base64.b64encode(RAW_KEY).decode()
SECRET = "sk-live-payload-91c2"


def execution_payload() -> Payload:
    execution = wire.agentexecution.AgentExecution()
    execution.spec.runtime_env["API_TOKEN"].value = SECRET
    return Payload(
        metadata={"encoding": b"json/protobuf"}, data=execution.SerializeToString() * 100
    )


async def test_encrypted_payloads_hide_their_content_and_round_trip() -> None:
    codec = EncryptionCodec(Secret(KEY))
    original = execution_payload()
    [sealed] = await codec.encode([original])
    assert SECRET.encode() not in sealed.SerializeToString()
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == key_id(RAW_KEY)
    assert await codec.decode([sealed]) == [original]
    [again] = await codec.encode([original])
    assert again.data[:NONCE_BYTES] != sealed.data[:NONCE_BYTES]  # a fresh nonce each time


async def test_the_documented_format_is_what_another_sdk_would_read() -> None:
    """nonce (12 bytes) || AES-GCM(ciphertext || tag) of the serialized Payload, no AAD."""
    original = execution_payload()
    [sealed] = await EncryptionCodec(Secret(KEY)).encode([original])
    plain = AESGCM(RAW_KEY).decrypt(sealed.data[:12], sealed.data[12:], None)
    assert Payload.FromString(plain) == original
    nonce = os.urandom(12)
    written_elsewhere = Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": key_id(RAW_KEY)},
        data=nonce + AESGCM(RAW_KEY).encrypt(nonce, original.SerializeToString(), None),
    )
    assert await EncryptionCodec(Secret(KEY)).decode([written_elsewhere]) == [original]


async def test_another_key_or_altered_data_is_refused_clearly() -> None:
    [sealed] = await EncryptionCodec(Secret(KEY)).encode([execution_payload()])
    other = EncryptionCodec(Secret(base64.b64encode(os.urandom(32)).decode()))
    with pytest.raises(PayloadDecryptionError, match="another key"):
        await other.decode([sealed])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await EncryptionCodec(Secret(KEY)).decode([tampered])
    plain = Payload(metadata={"encoding": b"binary/plain"}, data=b"x")
    assert await EncryptionCodec(Secret(KEY)).decode([plain]) == [plain]


async def test_with_the_claim_check_the_store_only_ever_holds_ciphertext(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    codec = ComposedCodec([EncryptionCodec(Secret(KEY)), ClaimCheckCodec(store, 1024)])
    original = execution_payload()
    encoded = await codec.encode([original])
    [key] = await store.list_keys()
    assert SECRET.encode() not in (tmp_path / "blobs" / key).read_bytes()
    assert SECRET.encode() not in encoded[0].SerializeToString()
    assert await codec.decode(encoded) == [original]


def config(tmp_path: Path, **extra: str) -> Config:
    return Config.load_from_env(
        {"MODE": "local", "AGENT_RUNNER_DATA_DIR": str(tmp_path), "CLAIMCHECK_ENABLED": "true"}
        | extra
    )


async def test_the_key_comes_from_the_variable_or_its_file_and_bad_keys_are_named(
    tmp_path: Path,
) -> None:
    assert payload_codec(config(tmp_path, CLAIMCHECK_ENABLED="false")) is None
    codec = payload_codec(config(tmp_path, TEMPORAL_PAYLOAD_KEY=KEY))
    assert isinstance(codec, ComposedCodec)
    assert [type(c) for c in codec.codecs] == [EncryptionCodec, ClaimCheckCodec]
    key_file = tmp_path / "payload.key"
    key_file.write_text(KEY + "\n")
    assert config(tmp_path, TEMPORAL_PAYLOAD_KEY_FILE=str(key_file)).payload_key == Secret(KEY)
    with pytest.raises(ConfigError) as bad:
        config(tmp_path, TEMPORAL_PAYLOAD_KEY="c2hvcnQ=")
    assert "openssl rand -base64 32" in str(bad.value)
    assert "c2hvcnQ=" not in str(bad.value)
    with pytest.raises(ConfigError, match="cannot be read"):
        config(tmp_path, TEMPORAL_PAYLOAD_KEY_FILE=str(tmp_path / "missing"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_local_state_is_created_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        store = Store(tmp_path / "data" / "daemon.sqlite3")
        store.put_session(wire.session.Session())
        blobs = FilesystemBlobStore(tmp_path / "data" / "blobs")
        key = await blobs.put(b"blob")
        configure_logging("INFO", tmp_path / "data" / "logs" / "run.log")
        store.close()
    finally:
        os.umask(old_umask)
    data = tmp_path / "data"
    assert mode(data) == 0o700
    assert mode(data / "logs") == 0o700
    assert mode(data / "blobs") == 0o700
    assert mode(data / "daemon.sqlite3") == 0o600
    assert mode(data / "blobs" / key) == 0o600
    assert mode(data / "logs" / "run.log") == 0o600
    with sqlite3.connect(data / "daemon.sqlite3") as db:  # still a working database
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
