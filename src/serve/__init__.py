"""Real-time identification over HTTP: `facerec-serve` (FastAPI + uvicorn).

Modules: ``settings`` (the ``serve`` config node), ``auth`` (API key; the key-less mode's loopback Host/Origin
check), ``limits`` (body and image size, decoding), ``budget`` (memory of decoding across requests),
``uploads`` (enrolled images in person folders), ``engine`` (model + gallery on in-memory images),
``batching`` (micro-batches), ``service`` (the async side), ``routes`` / ``schemas`` (HTTP API),
``metrics`` (Prometheus), ``app`` (the ASGI app), ``cli`` (the Hydra entry point).
"""
