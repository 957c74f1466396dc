"""Model architectures, feature encoding and model folders shared by training and scoring."""
