"""HTTP transport: sessions, the fan-out engine, and the wire codecs they use."""
