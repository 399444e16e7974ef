"""Capacity planning (pure): KV-bound concurrency from hardware facts, replicas and cost from a measured knee."""
