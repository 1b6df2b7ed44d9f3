from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("rooms/mine", views.my_rooms, name="my_rooms"),
    path("r/<int:room_id>/", views.room, name="room"),
    path("r/<int:room_id>/messages", views.room_messages, name="room_messages"),
    path("r/<int:room_id>/members", views.room_members, name="room_members"),
    path("r/<int:room_id>/settings", views.room_settings, name="room_settings"),
    path("r/<int:room_id>/files", views.room_files, name="room_files"),
    path("files/<str:key>/<path:name>", views.attachment, name="attachment"),
    path("thumbnails/<str:key>.webp", views.thumbnail, name="thumbnail"),
    path("invite/<str:token>", views.invite, name="invite"),
    path("direct", views.direct, name="direct"),
    path("search", views.search, name="search"),
    path("push/subscriptions", views.push_subscriptions, name="push_subscriptions"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
]
