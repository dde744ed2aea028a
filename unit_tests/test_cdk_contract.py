"""What the connector relies on in the CDK where the CDK offers no public hook (`airbyte-cdk` >=7.39.1,<8):
each test fails, naming the change, when a CDK release stops doing it.

- `FairThreadPool` (runtime/scheduling.py) subclasses `ThreadPoolManager`: it keeps its own futures in the
  base's `_futures` list, whose completion and errors the base reports (`is_done`,
  `check_for_errors_and_shutdown`), and runs them on the base's `_threadpool`.
- `SourceBilling._spawn` (runtime/source.py) puts a `StreamPartition` of a split window on the concurrent
  source's queue, as the CDK's partition generators do: the main loop must hand it to `on_partition`.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from unittest.mock import Mock

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.thread_pool_manager import ThreadPoolManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.streams.concurrent.adapters import StreamPartition
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition

from source_billing.runtime.scheduling import FairThreadPool


def _manager() -> tuple[ThreadPoolManager, ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1)
    return ThreadPoolManager(executor, logging.getLogger("test")), executor


def test_given_the_thread_pool_manager_then_its_executor_is_kept_as_threadpool() -> None:
    manager, executor = _manager()
    assert manager._threadpool is executor, "FairThreadPool submits its tasks to `_threadpool`"
    executor.shutdown()


def test_given_futures_added_to_the_manager_when_they_end_then_is_done_reports_them() -> None:
    manager, executor = _manager()
    future: Future[Any] = Future()
    assert isinstance(manager._futures, list), "FairThreadPool appends its futures to `_futures`"
    manager._futures.append(future)
    assert not manager.is_done()
    future.set_result(None)
    assert manager.is_done()
    executor.shutdown()


def test_given_a_future_added_to_the_manager_when_it_failed_then_the_check_raises_its_error() -> None:
    manager, executor = _manager()
    future: Future[Any] = Future()
    future.set_exception(ValueError("boom"))
    manager._futures.append(future)
    with pytest.raises(Exception, match="boom"):
        manager.check_for_errors_and_shutdown()
    executor.shutdown()


def test_given_the_fair_pool_then_it_is_a_thread_pool_manager_with_the_shutdown_it_overrides() -> None:
    assert issubclass(FairThreadPool, ThreadPoolManager)
    assert callable(ThreadPoolManager._shutdown), "FairThreadPool cancels its queued slices in `_shutdown`"


def test_given_a_partition_on_the_concurrent_queue_when_handled_then_it_is_read_like_a_generated_one() -> (
    None
):
    stream = Mock()
    stream.name = "customers"
    partition = StreamPartition(
        stream, {"partition": "default"}, InMemoryMessageRepository(), SyncMode.full_refresh, None, {}
    )
    assert isinstance(partition, Partition)
    processor = Mock()
    source = ConcurrentSource(Mock(), logging.getLogger("test"), Mock(), Mock(), Mock())
    list(source._handle_item(partition, processor))
    processor.on_partition.assert_called_once_with(partition)
