"""Evaluation of the models the service ships: ranking quality on external datasets and the
help center, reranker latency, and the reranker's model card."""
