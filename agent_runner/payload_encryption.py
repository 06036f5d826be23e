"""Optional encryption of every Temporal payload: AES-GCM, keyed by `TEMPORAL_PAYLOAD_KEY`.

An execution's inputs carry its `runtime_env`, secrets included; Temporal keeps
every payload in its history. With a key set, `EncryptionCodec` encrypts each
payload before it leaves the process, so the history (and the claim-check
store, which it runs before) holds only ciphertext.

The format, for the Java or Go codec that must read and write the same payloads:

    metadata: {"encoding": "binary/encrypted", "encryption-key-id": "<key id>"}
    data:     nonce (12 random bytes) || AES-GCM ciphertext || tag (16 bytes)

- The key is the base64 (standard alphabet, padded) of 16, 24 or 32 random bytes
  (`openssl rand -base64 32`), the same on every worker and client.
- The plaintext is the serialized `temporal.api.common.v1.Payload` (metadata and
  data of the original payload), encrypted with no associated data.
- `encryption-key-id` is the first 16 hex digits of the SHA-256 of the raw key:
  a reader with another key says so instead of failing to authenticate.

`composed` chains codecs: encoding runs them in order, decoding in reverse, so
`composed(encryption, claim_check)` encrypts first and the store keeps ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

import temporalio.api.common.v1
import temporalio.converter
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent_runner.errors import AgentRunnerError
from agent_runner.secrets import Secret

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12

Payload = temporalio.api.common.v1.Payload


class PayloadDecryptionError(AgentRunnerError):
    """An encrypted payload cannot be read with this worker's key."""


def key_id(raw_key: bytes) -> bytes:
    return hashlib.sha256(raw_key).hexdigest()[:16].encode()


class EncryptionCodec(temporalio.converter.PayloadCodec):
    """AES-GCM over whole payloads; see the module docstring for the format."""

    def __init__(self, key: Secret) -> None:
        raw = base64.b64decode(key.reveal(), validate=True)
        self._aead = AESGCM(raw)
        self._key_id = key_id(raw)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, payload.SerializeToString(), None)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self._key_id}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written without encryption (before the key was set)
        if payload.metadata.get(KEY_ID, self._key_id) != self._key_id:
            raise PayloadDecryptionError(
                "a payload was encrypted with another key (key id "
                f"{payload.metadata[KEY_ID].decode(errors='replace')}); set the same "
                "TEMPORAL_PAYLOAD_KEY on every worker and client"
            )
        data = payload.data
        try:
            plain = self._aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag:
            raise PayloadDecryptionError(
                "an encrypted payload failed authentication: it was altered, or "
                "encrypted with another TEMPORAL_PAYLOAD_KEY"
            ) from None
        return Payload.FromString(plain)


class ComposedCodec(temporalio.converter.PayloadCodec):
    """Several codecs as one: encoding in order, decoding in reverse order."""

    def __init__(self, codecs: Sequence[temporalio.converter.PayloadCodec]) -> None:
        self.codecs = tuple(codecs)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        current = list(payloads)
        for codec in self.codecs:
            current = await codec.encode(current)
        return current

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        current = list(payloads)
        for codec in reversed(self.codecs):
            current = await codec.decode(current)
        return current


def composed(
    *codecs: temporalio.converter.PayloadCodec | None,
) -> temporalio.converter.PayloadCodec | None:
    """The codecs given (None skipped) as one codec; None when there is none."""
    present = [c for c in codecs if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else ComposedCodec(present)
