"""pushapp: a small Celery app that sends pushes with fcm-client and keeps its device table.

- :mod:`pushapp.devices`: the SQLite device table and what each send result does to it.
- :mod:`pushapp.tasks`: the Celery app, the send task and :func:`~pushapp.tasks.notify_all`.
- ``python -m pushapp``: add tokens, queue a push to every device.
"""
