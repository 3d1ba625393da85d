"""Training callbacks: throughput logging and the Milvus gallery export."""
