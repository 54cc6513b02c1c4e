"""Pure codecs of the FCM protocols: messages to request bodies, answers to outcomes. No I/O."""
