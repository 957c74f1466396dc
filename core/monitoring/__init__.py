"""Monitoring: what the managers watch. `overview` summarises volumes, scores, bands,
decisions and sentiment over time from the stored predictions; `report` writes and reads
the drift reports (`drift` and `stats` compute their metrics, `cbpe` the estimated
performance); `incidents` groups a week's alerts for the inbox and acknowledges them."""
