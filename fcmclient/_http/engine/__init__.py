"""The fan-out engine: many requests in flight from one asyncio loop in one helper thread.

Layers, each usable alone: :mod:`.h1` (one HTTP/1.1 keep-alive connection as an asyncio
protocol over the sans-IO codec in :mod:`fcmclient._http.wire`), :mod:`.origin` (the bounded
set of connections to one scheme, host and port), :mod:`.loop` (the thread, its loop and the
resolver thread) and :mod:`.fanout` (a run of many requests with the executor's promises).
Why this design: ``docs/architecture.rst``, "The fan-out engine".
"""
