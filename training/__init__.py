"""Fine-tuning of the claim-risk and sentiment models (one module per stage)."""
