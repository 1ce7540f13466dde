"""daphne's server, letting go of each connection as soon as it is done.

daphne keeps every request and socket it serves in its list of connections
until a check that runs once a second, however soon the connection closed
and its application returned: an order's socket stayed listed for up to a
second after the client had it close. Long enough for the garbage
collector to move its objects (daphne's protocol, Twisted's request and
channel, autobahn's state: about 80 an order, held in reference cycles)
into its oldest generation. At 200 orders/s on two cores that generation
took 11,000-17,000 of them between full collections, and each full
collection stopped its web process for 14-238 ms, every 6-10 s.

Here a connection leaves the list as soon as it is closed and its
application has returned. Its objects are then garbage while they are
young, and the young collections take them. The once-a-second check is
daphne's still: it reports an application that failed, and stops one
that outlives its connection too long.

Import this only after the event loop policy is set (config.server):
daphne.server makes its loop when it is imported.
"""

from daphne.server import Server


class PromptServer(Server):
    def create_application(self, protocol, scope):
        queue = super().create_application(protocol, scope)
        instance = self.connections.get(protocol, {}).get("application_instance")
        if instance is not None:
            instance.add_done_callback(lambda _instance: self.let_go(protocol))
        return queue

    def protocol_disconnected(self, protocol):
        # daphne tells of a socket rejected before its accept twice (its
        # reject, then autobahn's close); the first may have let it go.
        if protocol not in self.connections:
            return
        super().protocol_disconnected(protocol)
        self.let_go(protocol)

    def let_go(self, protocol) -> None:
        """Drop `protocol` from the connections if it is closed and its
        application returned. One that failed, or was cancelled, is left
        for daphne's check, which logs why."""
        details = self.connections.get(protocol)
        if details is None or "disconnected" not in details:
            return
        instance = details.get("application_instance")
        if instance is not None and (
            not instance.done() or instance.cancelled() or instance.exception() is not None
        ):
            return
        del self.connections[protocol]
