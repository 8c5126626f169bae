"""The kill switch: halt the bot, cancel its orders, close its positions, check flat.

It runs as its own process (``bastion sentinel``) or straight from a shell
(``bastion kill``), and imports only ``bastion.config``, ``bastion.model``,
``bastion.venues`` and ``bastion.state.store``: it must work when the bot,
its strategy, its risk layer or its database are the thing that broke.

This package's ``__init__`` imports nothing, so that the bot can read the
``KILLED`` flag (``bastion.state.killflag``) without loading the web stack.
"""
