"""Building the models the service ships: the cross-encoder reranker (``reranker``)."""
