"""Training data and training of the cross-encoder reranker."""
