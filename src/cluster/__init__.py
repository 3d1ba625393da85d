"""Who are these people? Group the faces of a pile of photos by person, then name the groups into the gallery.

``faces`` (find photos, detect every face, embed it; cached per image so a large run resumes), ``graph`` (the
nearest-neighbour graph: exact in blocks, or through the gallery's Milvus), ``algorithms`` (Chinese whispers,
connected components, agglomerative, DBSCAN, HDBSCAN), ``metrics`` (pairwise and BCubed scores), ``threshold``
(the similarity that links two faces), ``output`` (clusters.json, folders, contact sheets), ``command``
(``facerec-cluster``) and ``edit`` (name, merge, move). Clustering uses ``FaceModel`` and ``FaceGallery``,
never the vector store. Nothing is imported here, so ``config`` stays light for ``--help``.
"""
