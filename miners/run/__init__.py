"""The run over a list of SPECs: its state, its crash-safe outputs, the final rewrite
with run-wide dedup, shards and merges, progress, and the bound on the build caches."""
