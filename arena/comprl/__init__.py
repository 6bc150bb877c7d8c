"""Playing on the course's competition server (comprl): a client that keeps a policy there.

``game``: what a client can know of a server game from the observations and the final counts
(pure, no network). ``commands``: the server's seven AMP commands. ``client``: the connection,
the policy's worker thread, reconnects and budgets. Only ``commands`` and ``client`` need Twisted
(the ``server`` extra), so importing this package needs nothing beyond the arena.
"""
