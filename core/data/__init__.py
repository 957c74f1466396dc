"""Claims data: the synthetic generator, the import format and its validation, loading."""
