"""Evaluation: metric functions over arrays, the gallery/probe protocol and the report.

Metric modules, one concern each, plain functions over arrays:

* :mod:`~src.scoring.acceptance` - the one acceptance rule (``score >= threshold``) and thresholds at a FAR;
* :mod:`~src.evaluation.identification` - rank-k, CMC, open-set DIR at FAR;
* :mod:`~src.evaluation.verification` - pairs, k-fold accuracy, TAR at FAR, ROC;
* :mod:`~src.evaluation.retrieval` - cosine similarities, exact top-k, recall of a search against exact;
* :mod:`~src.evaluation.latency` - latency summaries and search timing through a vector store.

Conventions shared by every metric function:

* **Scores are similarities: higher means more alike** (cosine, inner product, Milvus ``COSINE``/``IP``).
  Distances (L2) must be negated before they are passed in.
* **Inputs** may be torch tensors (any device) or numpy arrays / sequences. The functions used by the training
  validation loop work in torch; the others convert to numpy ``float64`` and return numpy arrays or Python
  floats. ``exact_top_k`` returns torch tensors.
* **Acceptance**: a score is accepted (same person / known) iff ``score >= threshold``
  (:func:`src.scoring.acceptance.accepts`). Metrics, reports and ``FaceGallery.identify`` all use it.
* **Ranks are 1-based and pessimistic on ties**: the rank of the true identity is
  ``1 + number of wrong identities scoring >= the true identity``, so a tie with a wrong identity is never
  resolved in the probe's favour. Rank arrays are ``float64``: ``np.inf`` when the true identity is absent from
  a (truncated) result list, ``np.nan`` when the probe is not enrolled.
* **Not enrolled**: a probe label that is negative (e.g. ``-1``), absent from the gallery identities, or whose
  identity column is ``-inf`` (no gallery image, as produced by ``identity_scores``).
"""
