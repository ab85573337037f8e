"""Training data and training of the shipped cross-encoder reranker (``make train-reranker``),
and its fine-tuning on an operator's own tickets (``make finetune-reranker``)."""
