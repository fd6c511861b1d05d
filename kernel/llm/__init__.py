"""The LLM gateway: the only door to language and embedding models."""
