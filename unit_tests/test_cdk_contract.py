"""What the connector relies on in the CDK where the CDK offers no public hook (`airbyte-cdk` >=7.39.1,<8):
each test fails, naming the change, when a CDK release stops doing it.

- `FairThreadPool` (runtime/scheduling.py) subclasses `ThreadPoolManager`, the type the concurrent source
  takes, and implements each of its public methods on its own executor and futures: a method the CDK
  adds would reach the base's private state instead.
- `SourceBilling._spawn` (runtime/source.py) puts a `StreamPartition` of a split window on the concurrent
  source's queue, as the CDK's partition generators do: the main loop must hand it to `on_partition`.
"""

from __future__ import annotations

import logging
from unittest.mock import Mock

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.thread_pool_manager import ThreadPoolManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.streams.concurrent.adapters import StreamPartition
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition

from source_billing.runtime.scheduling import FairThreadPool


def test_given_the_thread_pool_manager_then_the_fair_pool_implements_each_of_its_public_methods() -> None:
    public = {
        name
        for name, member in vars(ThreadPoolManager).items()
        if callable(member) and not name.startswith("_")
    }
    assert public == {
        "submit",
        "check_for_errors_and_shutdown",
        "prune_to_validate_has_reached_futures_limit",
        "is_done",
    }, "the CDK's ThreadPoolManager changed its methods: FairThreadPool must implement the new ones"
    assert issubclass(FairThreadPool, ThreadPoolManager)
    assert public <= set(vars(FairThreadPool)), "FairThreadPool leaves a method to the base's private state"


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
