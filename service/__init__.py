"""Interfaces other than the app: the `claimlens` command line, the background worker that
runs queued jobs, and the distributed training launcher. They sit on top of every layer
(db ← core ← training ← service) and hold no domain rules of their own."""
