import secrets
import unicodedata
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

NAME_MAX_CHARS = 40
ROOM_NAME_MAX_CHARS = 80


def name_key(name: str) -> str:
    """The form under which two names count as the same: 'Ana', 'ANA' and a full-width
    'Ana' all collide, so nobody can pass for someone else by case or look-alike width."""
    return unicodedata.normalize("NFKC", name).casefold()


class NameKeyUserManager(UserManager):
    def get_by_natural_key(self, username):
        # Log-ins (admin, createsuperuser) find people by name in any case.
        return self.get(username=name_key(username))


class User(AbstractUser):
    """A person. Guests are users with a display name and no usable password.

    `username` holds the name's key, so the unique index makes names case-insensitively
    unique; `display_name` is the name exactly as typed.
    """

    # Names may be in any script and hold any symbol.
    username_validator = None  # type: ignore[assignment]
    display_name = models.CharField(max_length=NAME_MAX_CHARS, blank=True)

    objects: ClassVar[NameKeyUserManager] = NameKeyUserManager()

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def save(self, *args, **kwargs):
        # Accounts made outside the front page (createsuperuser, admin) share its rules.
        self.display_name = self.display_name or self.username
        self.username = name_key(self.username)
        super().save(*args, **kwargs)


PRIVATE_KEY_PREFIX = "\x01private:"  # no name holds a control character


def new_epoch() -> str:
    return secrets.token_hex(8)


class Room(models.Model):
    name = models.CharField(max_length=ROOM_NAME_MAX_CHARS)
    key = models.CharField(max_length=ROOM_NAME_MAX_CHARS * 3, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The room log's counter: the last number handed out, to a message or any other change.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    # Which run of numbers clients' positions belong to. A database restored from a backup
    # hands out again numbers that clients have seen: `manage.py rooms_new_epoch` after a
    # restore makes every client reset instead of trusting its position.
    epoch = models.CharField(max_length=16, default=new_epoch, editable=False)
    last_message_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Private: only members see it at all (chat.access); joined by invitation.
    private = models.BooleanField(default=False)
    # A direct conversation: private, with no name (each person sees the others' names).
    direct = models.BooleanField(default=False, editable=False)
    # The invitation link's secret, while the room has one; a new one revokes the old.
    invite_token = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )

    class Meta:
        indexes = [models.Index(fields=["-last_message_at", "-created_at"])]

    def __str__(self) -> str:
        return self.name or f"Direct conversation {self.pk}"

    def save(self, *args, **kwargs):
        # A private room's name is nobody's business outside it: it holds no public name,
        # so asking for a room by that name makes a new public one instead of revealing it.
        if not self.private:
            self.key = name_key(self.name)
        elif not self.key.startswith(PRIVATE_KEY_PREFIX):
            self.key = PRIVATE_KEY_PREFIX + secrets.token_hex(16)
        super().save(*args, **kwargs)


class Membership(models.Model):
    """A person in a room: their role, and how far they have read (unread is what others
    posted after `last_read_seq`, which only moves forward)."""

    OWNER = "owner"
    MODERATOR = "moderator"
    MEMBER = "member"
    ROLES = [(OWNER, "Owner"), (MODERATOR, "Moderator"), (MEMBER, "Member")]

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    NOTIFY_ALL = "all"
    NOTIFY_MENTIONS = "mentions"
    NOTIFY_NONE = "none"
    NOTIFY_LEVELS = [
        (NOTIFY_ALL, "All messages"),
        (NOTIFY_MENTIONS, "Mentions only"),
        (NOTIFY_NONE, "Nothing"),
    ]

    role = models.CharField(max_length=16, choices=ROLES, default=MEMBER)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # What the person is notified of in this room.
    notify = models.CharField(max_length=16, choices=NOTIFY_LEVELS, default=NOTIFY_MENTIONS)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index a person's rooms are read by.
            models.UniqueConstraint(fields=["person", "room"], name="membership_once")
        ]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.room_id} ({self.role})"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    text = models.TextField()  # empty once deleted
    # The text rendered as sanitised HTML when stored or edited (chat.formatting); empty
    # once deleted, and for messages stored before rendering (rendered as they are read).
    html = models.TextField(blank=True, default="")
    # The sender's own id for this message: a resend with the same id is the same message.
    client_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # The room number of the latest change to this message (its own `seq` until changed).
    version = models.PositiveBigIntegerField(default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # a tombstone once set
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    # Who it mentions, [{"id": ..., "name": ...}], each name as the text writes it ("@Bo");
    # the Mention rows say the same for finding a person's mentions.
    mentions = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            # Also the index that every history page and catch-up reads by.
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq_unique"),
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"], name="message_client_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in {self.room_id}"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class Mention(models.Model):
    """A person mentioned in a message: stored as who, not as matched text. Its room and
    number are the message's, so a person's unread mentions in a room are one range."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mention_rows")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions"
    )
    # When the person was mentioned: with the message, or later by an edit.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "person"], name="mention_once")]
        indexes = [models.Index(fields=["person", "room", "seq"])]

    def __str__(self) -> str:
        return f"{self.person_id} in #{self.seq} of {self.room_id}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "emoji", "person"], name="reaction_once_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message_id}"


class RoomEvent(models.Model):
    """A numbered change in a room other than a new message: an edit, a deletion, a
    reaction, the room itself renamed or made private. A new message is its own event (its
    row and `seq`); the two together are the room log, read in order by `seq` (see
    selectors.room_events_after)."""

    MESSAGE_EDITED = "message.edited"
    MESSAGE_DELETED = "message.deleted"
    REACTION_CHANGED = "reaction.changed"
    ROOM_CHANGED = "room.changed"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=32)
    # The message it is about; none for a change of the room itself.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    # What the event says beyond the message's current state: for a reaction, its emoji
    # and who reacted then (absolute, so that applying it twice changes nothing).
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="room_event_room_seq_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.seq} in {self.room_id}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription: where to send a person's notifications when no
    tab of theirs is open. One browser, one row: subscribing again moves it to whoever is
    logged in there now."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=128)  # the browser's public key, base64url
    auth = models.CharField(max_length=64)  # the shared authentication secret, base64url
    # A hash of the token the subscribing session holds: logging out there (which ends the
    # session, and the token with it) stops this browser's notifications.
    browser_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Every visit of a room renews it; one not renewed for a session's lifetime is dropped.
    renewed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"push for {self.person_id}"


class PushCursor(models.Model):
    """How far the push sender has looked: the last message and mention it considered. One
    row; the worker that holds its lock is the one sending."""

    message_id = models.PositiveBigIntegerField(default=0)
    mention_id = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"push looked up to message {self.message_id}, mention {self.mention_id}"


def new_file_key() -> str:
    return secrets.token_urlsafe(16)


def stored_files():
    """Where files' bytes are (settings.STORAGES["files"]). Ask it each time: a FileField
    resolves its storage once, when the model is defined, and tests swap it per test."""
    from django.core.files.storage import storages

    return storages["files"]


class Attachment(models.Model):
    """A file someone uploaded to a room. Until a message carries it (`message` unset) only
    its uploader sees it; then whoever may see the room. Deleting the message deletes it.

    Its URL holds `key`, not the row's id: a guessable number would let anyone try to tell
    which files exist."""

    key = models.CharField(max_length=32, unique=True, default=new_file_key, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    # Its place among the message's files, in the order they were attached.
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=255)  # as uploaded, made safe as a file name
    content_type = models.CharField(max_length=127)  # from its content, never its name alone
    size = models.PositiveBigIntegerField()
    file = models.FileField(storage=stored_files, max_length=255)
    # Images only: the picture's size, and a small copy without its metadata.
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.FileField(storage=stored_files, max_length=255, blank=True)
    thumbnail_width = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["message", "position"]),
            # A person's uploads in the last hour (the limits) and those left unsent.
            models.Index(fields=["uploader", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail)


class AccessToken(models.Model):
    """A personal access token: a bot or script acting as its person through the API. Only
    a hash of the secret is kept (shown once, when made); revoking it ends it at once."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=80)  # what its person calls it ("deploy bot")
    digest = models.CharField(max_length=64, unique=True, editable=False)  # SHA-256, hex
    prefix = models.CharField(max_length=16, editable=False)  # its start, to tell it apart
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
