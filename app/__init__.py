"""Groundline: a support-chatbot backend that answers only from its knowledge base."""

__version__ = "0.1.0"
