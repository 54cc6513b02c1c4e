"""HTTP transport: the pooled session, the fan-out executor, and what keeps them safe across
fork and visible to test doubles."""
