"""fcm-client: send Firebase Cloud Messaging push notifications, legacy API or HTTP v1.

>>> from fcmclient import FCM, JSONMessage, Result
"""

import logging

from . import api
from ._version import __version__
from .api import *  # noqa: F403  # the public names, listed once in api.__all__

__all__ = ["__version__", *api.__all__]

logging.getLogger("fcmclient").addHandler(logging.NullHandler())
