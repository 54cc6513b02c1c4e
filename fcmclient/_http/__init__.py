"""HTTP transport: the pooled session, the fan-out engine, the wire codecs they use, and what
keeps them safe across fork and visible to test doubles."""
