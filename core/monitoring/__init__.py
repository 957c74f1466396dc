"""Monitoring: what the managers watch. `overview` summarises volumes, scores, bands,
decisions and sentiment over time from the stored predictions."""
