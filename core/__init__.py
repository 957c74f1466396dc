"""ClaimLens domain logic, split by capability (data, auth, audit, ...)."""
