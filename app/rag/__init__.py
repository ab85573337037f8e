"""Retrieval-augmented answering: index, retrieval, reranking, generation and the answer policy."""
