"""The public edge: widget keys, origins, rate limits, handoffs and OpenAI compatibility."""
