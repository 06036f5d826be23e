"""Claim check: large Temporal payloads go to an object store; a small reference travels.

`ClaimCheckCodec` is a Temporal `PayloadCodec`. A payload whose serialized size is
above the threshold is stored whole (the bytes of its `temporal.api.common.v1.Payload`
message) and replaced by a reference payload:

    metadata: {"encoding": "claim-check/v1"}
    data:     {"key": "<store key>", "size": <bytes>, "sha256": "<hex of the stored bytes>"}
              (UTF-8 JSON)

A Java or Go codec reads it by fetching `key` from the same store, checking the
digest, and parsing the bytes as a `Payload`. Stores: a folder (`MODE=local`) or
an S3-compatible bucket (boto3), under UUID keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import temporalio.api.common.v1
import temporalio.converter

from agent_runner.config import Config
from agent_runner.errors import AgentRunnerError
from agent_runner.payload_encryption import EncryptionCodec, composed
from agent_runner.private_files import FILE_MODE, private_folder

ENCODING = b"claim-check/v1"


class BlobStoreError(AgentRunnerError):
    """The object store cannot be used as configured."""


class BlobNotFound(BlobStoreError):
    """No object under that key (deleted, expired, or another store)."""


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def health(self) -> None: ...

    async def list_keys(self) -> list[str]: ...


class FilesystemBlobStore:
    """Objects as files in a folder (created when missing), named by UUID."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            private_folder(path)
        except OSError as err:
            raise BlobStoreError(
                f"BLOB_STORAGE_PATH {path} cannot be used as a folder: {err.strerror}"
            ) from err
        if not os.access(path, os.W_OK | os.X_OK):
            raise BlobStoreError(f"BLOB_STORAGE_PATH {path} is not writable by this process")

    def _file(self, key: str) -> Path:
        try:
            return self.path / uuid.UUID(key).hex
        except ValueError as err:
            raise BlobNotFound(f"{key!r} is not a key of this store (keys are UUIDs)") from err

    async def put(self, data: bytes) -> str:
        key = uuid.uuid4().hex
        partial = self.path / f".{key}.partial"
        # Written aside, then renamed: a reader never sees half an object.
        await asyncio.to_thread(_write_private, partial, data)
        await asyncio.to_thread(partial.rename, self.path / key)
        return key

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._file(key).read_bytes)
        except FileNotFoundError as err:
            raise BlobNotFound(f"no object {key!r} in {self.path}") from err

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._file(key).unlink)
        except FileNotFoundError as err:
            raise BlobNotFound(f"no object {key!r} in {self.path}") from err

    async def health(self) -> None:
        probe = await self.put(b"health")
        await self.delete(probe)

    async def list_keys(self) -> list[str]:
        names = await asyncio.to_thread(os.listdir, self.path)
        return sorted(name for name in names if not name.startswith("."))


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


class S3BlobStore:
    """Objects in an S3-compatible bucket, through boto3 (run in threads)."""

    def __init__(
        self, bucket: str, prefix: str = "", client: Any = None, **client_options: Any
    ) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client("s3", **client_options)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(
                getattr(self.client, method), Bucket=self.bucket, **kwargs
            )
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise BlobNotFound(
                    f"no object {kwargs.get('Key')!r} in bucket {self.bucket}"
                ) from err
            raise BlobStoreError(
                f"S3 bucket {self.bucket}: {method} failed: {code or err}"
            ) from err
        except BotoCoreError as err:
            raise BlobStoreError(f"S3 bucket {self.bucket} cannot be reached: {err}") from err

    async def put(self, data: bytes) -> str:
        key = uuid.uuid4().hex
        await self._call("put_object", Key=self.prefix + key, Body=data)
        return key

    async def get(self, key: str) -> bytes:
        response = await self._call("get_object", Key=self.prefix + key)
        body: bytes = await asyncio.to_thread(response["Body"].read)
        return body

    async def delete(self, key: str) -> None:
        await self._call("head_object", Key=self.prefix + key)
        await self._call("delete_object", Key=self.prefix + key)

    async def health(self) -> None:
        await self._call("head_bucket")

    async def list_keys(self) -> list[str]:
        response = await self._call("list_objects_v2", Prefix=self.prefix)
        return sorted(item["Key"][len(self.prefix) :] for item in response.get("Contents", []))


class ClaimCheckCodec(temporalio.converter.PayloadCodec):
    def __init__(self, store: BlobStore, threshold_bytes: int) -> None:
        self.store = store
        self.threshold_bytes = threshold_bytes

    async def encode(
        self, payloads: Sequence[temporalio.api.common.v1.Payload]
    ) -> list[temporalio.api.common.v1.Payload]:
        return list(await asyncio.gather(*(self._encode_one(p) for p in payloads)))

    async def _encode_one(
        self, payload: temporalio.api.common.v1.Payload
    ) -> temporalio.api.common.v1.Payload:
        if payload.ByteSize() <= self.threshold_bytes:
            return payload
        data = payload.SerializeToString()
        key = await self.store.put(data)
        reference = {"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        return temporalio.api.common.v1.Payload(
            metadata={"encoding": ENCODING}, data=json.dumps(reference).encode()
        )

    async def decode(
        self, payloads: Sequence[temporalio.api.common.v1.Payload]
    ) -> list[temporalio.api.common.v1.Payload]:
        return list(await asyncio.gather(*(self._decode_one(p) for p in payloads)))

    async def _decode_one(
        self, payload: temporalio.api.common.v1.Payload
    ) -> temporalio.api.common.v1.Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        try:
            reference = json.loads(payload.data)
            key, digest = str(reference["key"]), str(reference["sha256"])
        except (ValueError, KeyError, TypeError) as err:
            raise BlobStoreError(f"a claim-check reference is malformed: {err}") from err
        data = await self.store.get(key)
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobStoreError(f"claim-check object {key!r} does not match its reference")
        stored = temporalio.api.common.v1.Payload()
        stored.ParseFromString(data)
        return stored


def payload_codec(config: Config) -> temporalio.converter.PayloadCodec | None:
    """Every codec the config asks for, as one: encryption (`TEMPORAL_PAYLOAD_KEY`) first,
    then the claim check, so the store only ever holds ciphertext when a key is set."""
    encryption = EncryptionCodec(config.payload_key) if config.payload_key else None
    return composed(encryption, claim_check_codec(config))


def claim_check_codec(config: Config) -> ClaimCheckCodec | None:
    """The codec `config.claim_check` asks for, or None when it is off."""
    settings = config.claim_check
    if not settings.enabled:
        return None
    store: BlobStore
    if settings.storage_type == "filesystem":
        store = FilesystemBlobStore(settings.path)
    elif settings.bucket is not None:  # the config requires a bucket for s3
        store = S3BlobStore(settings.bucket, settings.prefix, endpoint_url=settings.endpoint_url)
    else:
        raise BlobStoreError("BLOB_STORAGE_BUCKET is not set: the s3 claim-check store needs it")
    return ClaimCheckCodec(store, settings.threshold_bytes)
