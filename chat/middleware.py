RAW_SEND = "chat.raw_send"


class RawSendMiddleware:
    """Keeps the server's own `send` in the scope, so the room socket can write to it
    without the layers of wrappers that middleware below adds for HTTP's sake."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        return await self.app({**scope, RAW_SEND: send}, receive, send)
