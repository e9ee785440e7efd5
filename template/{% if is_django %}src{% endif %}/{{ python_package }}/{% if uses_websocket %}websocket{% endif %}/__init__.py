"""WebSockets at `/ws`, served by Channels and fanned out by the shared hub (`realtime`).

Channels routes the handshake (`config.asgi`), authenticates it (`auth`) and runs one consumer
per connection (`consumers`). The fan-out is the hub's, one per process (`hub`), not a channel
layer: measured with 1,000 consumers, `InMemoryChannelLayer.group_send` delivered with a p99 of
295 ms, consumers fed by the process-local hub with 50-56 ms. Between instances the hub's broker
carries the messages (with Redis: one pub/sub subscription per process, not channels-redis), so
there is no CHANNEL_LAYERS setting.
"""
