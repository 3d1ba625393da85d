"""The face gallery: one owner for building and using it.

``face_gallery.FaceGallery`` (a collection plus the model that built it: identify, enroll, remove),
``ingest.embed_into_store`` (the one embed-and-upsert path: export, training's callback, enrollment, evaluation),
``arrays.gallery_arrays`` (the one writer of ``embeddings.npy`` + ``names.json``), ``export`` (``facerec-export``)
and ``config`` (the typed ``gallery`` options). Nothing is imported here, so the light ``config`` module stays
light for the commands' ``--help``.
"""
