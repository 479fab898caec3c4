"""Out-of-core processing on one machine: inputs larger than memory, streamed in batches.

- `qdc.scale.reader`: batched readers for JSONL (plain, gzip, zstd) and Parquet that yield prepared frames
  with the same ids, line numbers and text columns as `qdc.io.read_records`;
- `qdc.scale.store`: embeddings in a memory-mapped ``.npy`` file (float16 or float32);
- `qdc.scale.dedup`: exact + MinHash-LSH dedup whose per-row state is a few fixed-size arrays, with the
  shingles and LSH band keys on disk (band keys in hash partitions, grouped one partition at a time);
- `qdc.scale.select`: kMQ selection over memory-mapped embeddings (k-means trained on a seeded sample,
  assignment in batches);
- `qdc.scale.score`: heuristic quality and complexity of every row, batch by batch (the in-memory scorers'
  columns and bytes);
- `qdc.scale.memory`: the memory and disk a run expects, checked against ``--max-memory``.
"""
