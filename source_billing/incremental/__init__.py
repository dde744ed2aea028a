"""What makes syncs incremental: creation-time windows, per-partition cursors that move only over
completed windows, and their bridge to the CDK's concurrent cursor."""
