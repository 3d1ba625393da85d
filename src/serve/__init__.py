"""Real-time identification over HTTP: `facerec-serve` (FastAPI + uvicorn).

Modules: ``settings`` (the ``serve`` config node), ``auth`` (API key), ``limits`` (body and image size,
decoding), ``uploads`` (enrolled images on disk), ``engine`` (model + gallery on in-memory images),
``batching`` (micro-batches), ``service`` (the async side), ``routes`` / ``schemas`` (HTTP API),
``metrics`` (Prometheus), ``app`` (the ASGI app), ``cli`` (the Hydra entry point).
"""
