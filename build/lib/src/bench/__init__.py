"""Benchmarks (``facerec-bench``): Milvus ingestion, search tuning, embedding throughput."""
