"""Admin operations: articles and tickets, re-index jobs, index versions, audit, gaps."""
