"""Claim check: the codec and its stores (a real folder, and the S3 API served by moto)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from temporalio.api.common.v1 import Payload

from agent_runner import wire
from agent_runner.claimcheck import (
    ENCODING,
    BlobNotFound,
    BlobStoreError,
    ClaimCheckCodec,
    FilesystemBlobStore,
    S3BlobStore,
)
from agent_runner.converter import interop_data_converter
from agent_runner.local.temporal_server import free_port

pytestmark = pytest.mark.anyio


def payload(size: int) -> Payload:
    return Payload(metadata={"encoding": b"binary/plain"}, data=os.urandom(size))


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs" / "not-yet-created")


async def test_small_payloads_pass_untouched_and_large_ones_travel_as_references(
    store: FilesystemBlobStore,
) -> None:
    codec = ClaimCheckCodec(store, threshold_bytes=4096)
    small, large = payload(100), payload(50_000)
    encoded = await codec.encode([small, large])
    assert encoded[0] == small
    reference = encoded[1]
    assert reference.metadata["encoding"] == ENCODING
    document = json.loads(reference.data)
    assert document["size"] == large.ByteSize()
    assert document["sha256"] == hashlib.sha256(large.SerializeToString()).hexdigest()
    assert reference.ByteSize() < 300
    assert await store.list_keys() == [document["key"]]
    assert await codec.decode(encoded) == [small, large]


async def test_a_10_mb_status_round_trips_through_the_data_converter(
    store: FilesystemBlobStore,
) -> None:
    converter = interop_data_converter(ClaimCheckCodec(store, threshold_bytes=256 * 1024))
    status = wire.agentexecution.AgentExecutionStatus(error="x" * 10_000_000)
    [encoded] = await converter.encode([status])
    assert encoded.ByteSize() < 1024
    [decoded] = await converter.decode([encoded], [wire.agentexecution.AgentExecutionStatus])
    assert decoded == status


async def test_concurrent_puts_get_distinct_keys(store: FilesystemBlobStore) -> None:
    blobs = [os.urandom(1000) for _ in range(100)]
    keys = await asyncio.gather(*(store.put(blob) for blob in blobs))
    assert len(set(keys)) == 100
    assert await asyncio.gather(*(store.get(key) for key in keys)) == blobs
    assert sorted(keys) == await store.list_keys()


async def test_missing_keys_and_bad_references_fail_cleanly(store: FilesystemBlobStore) -> None:
    with pytest.raises(BlobNotFound, match="no object"):
        await store.get("0" * 32)
    with pytest.raises(BlobNotFound, match="not a key of this store"):
        await store.get("../../etc/passwd")
    key = await store.put(b"x")
    await store.delete(key)
    with pytest.raises(BlobNotFound):
        await store.delete(key)
    codec = ClaimCheckCodec(store, 10)
    broken = Payload(metadata={"encoding": ENCODING}, data=b"{not json")
    with pytest.raises(BlobStoreError, match="malformed"):
        await codec.decode([broken])
    [reference] = await codec.encode([payload(100)])
    target = store.path / json.loads(reference.data)["key"]
    target.write_bytes(b"tampered")
    with pytest.raises(BlobStoreError, match="does not match"):
        await codec.decode([reference])


async def test_an_unusable_path_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(BlobStoreError, match="cannot be used as a folder"):
        FilesystemBlobStore(blocker / "blobs")
    store = FilesystemBlobStore(tmp_path / "ok")
    await store.health()
    assert await store.list_keys() == []


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
async def s3_store(s3_endpoint: str) -> AsyncIterator[S3BlobStore]:
    options = {
        "endpoint_url": s3_endpoint,
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "region_name": "us-east-1",
    }
    boto3.client("s3", **options).create_bucket(Bucket="claims")
    yield S3BlobStore("claims", "runner/claims", **options)


async def test_the_s3_store_round_trips_and_reports_errors(s3_store: S3BlobStore) -> None:
    await s3_store.health()
    codec = ClaimCheckCodec(s3_store, threshold_bytes=1024)
    big = payload(20_000)
    encoded = await codec.encode([big])
    assert await codec.decode(encoded) == [big]
    key = json.loads(encoded[0].data)["key"]
    assert await s3_store.list_keys() == [key]
    await s3_store.delete(key)
    with pytest.raises(BlobNotFound):
        await s3_store.get(key)
    missing_bucket = S3BlobStore("no-such-bucket", client=s3_store.client)
    with pytest.raises(BlobStoreError, match="no-such-bucket"):
        await missing_bucket.health()
