"""The senders behind FCM: one per protocol, with the access tokens and per-process resources they use."""
