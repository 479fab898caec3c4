"""Out-of-core and executor infrastructure, shared by the stream drivers that sit beside their algorithms.

- batched reading and writing are `qdc.io.iter_batches` and `qdc.io.open_sink` (one reader and one writer for
  files in memory and in batches);
- `qdc.scale.store`: embeddings in a memory-mapped ``.npy`` file (float16 or float32), gathered and scanned
  in blocks whose pages are released after use;
- `qdc.scale.memory`: the memory and disk a run expects, checked against ``--max-memory``;
- `qdc.scale.ray`: Ray start-up and resources, and the Ray Data operations the drivers hand work to.
- `qdc.scale.options.RunOptions`: how a streamed run executes (batch rows, memory limit, local or ray), one
  frozen value every stream driver takes as `run`.

The stream drivers: `qdc.dedup.stream` (exact + MinHash-LSH, semantic in `qdc.dedup.stream_semantic`),
`qdc.select.stream` (kMQ over memory-mapped embeddings), `qdc.quality.stream` (heuristic quality and
complexity batch by batch), `qdc.embed.stream` (embeddings into a memory-mapped ``.npy``).
"""
