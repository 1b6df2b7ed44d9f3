from django.urls import path, re_path

from chat.consumers import ChatConsumer, NoSuchRoomConsumer

websocket_urlpatterns = [
    path("ws/rooms/<int:room_id>/", ChatConsumer.as_asgi()),
    # Any other socket path gets a clear refusal instead of a failed handshake.
    re_path(r"", NoSuchRoomConsumer.as_asgi()),
]
