"""Evaluation: answer a question set through the real pipeline and measure it."""
