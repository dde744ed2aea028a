"""The runtime of a sync: the Airbyte source and its entry point, the inputs it reads, the scheduler that
hands workers to streams, a process per API, and the progress log."""
