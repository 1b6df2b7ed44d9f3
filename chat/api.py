"""The HTTP API for bots and scripts, under /api/v1/, documented at /api/docs.

django-ninja routes, authenticates (a personal access token as `Authorization: Bearer`,
or the browser's session with its CSRF token) and serves the OpenAPI document and its
pages; Django REST Framework would have brought serializers for shapes the wire schema
already declares, a second request pipeline, and no async views. Every body and answer
is the socket's own msgspec struct (chat.protocol), decoded and validated by the same
functions, and the OpenAPI document takes their JSON Schema from msgspec: one shape, one
set of error codes, for sockets and the API alike.

Each call goes the socket's way: the one access rule (chat.access), the same per-person
and per-address limits, posts through this process's batch writer and changes through
its write lane, and the room log read by the same selectors. The long poll on a room's
events follows the room through the hub, so it wakes as soon as an event arrives, from
this worker or any other.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

import msgspec
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Path, Query, Router
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from chat import access, protocol, ratelimit, runtime, selectors, services
from chat.models import User
from chat.protocol import Error
from chat.services import tokens
from chat.writer import write_alone

log = logging.getLogger(__name__)

SeqParam = Annotated[int, Query(ge=0, le=access.MAX_ID)]
IdInPath = Annotated[int, Path(ge=1, le=access.MAX_ID)]
SeqInPath = Annotated[int, Path(ge=0, le=access.MAX_ID)]
LIMIT_MAX = 100
RETRY_AFTER_FAILURE_MS = 1000

# What an error code answers over HTTP (the socket's codes; docs/protocol.md lists them).
STATUS_OF = {
    Error.NOT_FOUND: 404,
    Error.FORBIDDEN: 403,
    Error.GONE: 410,
    Error.RATE_LIMITED: 429,
    Error.FRAME_TOO_LARGE: 413,
    Error.UNAVAILABLE: 503,
    Error.OUTCOME_UNKNOWN: 503,
    Error.INTERNAL_ERROR: 500,
    "too_many_reactions": 409,
    "not_authenticated": 401,
    "invalid_token": 401,
}


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return tokens.person_for_token(token)


class SessionAuth(APIKeyCookie):
    """The browser's session (its CSRF token too, for writes), as the pages use it."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        return request.user if isinstance(request.user, User) else None


class ChatAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any):
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(_COMPONENTS)
        return schema


api = ChatAPI(
    title="Chat API",
    version="1",
    description=(
        "Rooms, their history, posting (idempotent by `client_id`), editing, deleting, "
        "reacting, search, and each room's log as a long poll: the same shapes and error "
        "codes as the room socket (docs/protocol.md). Authenticate with a personal access "
        "token from your account page: `Authorization: Bearer chat_...`."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/v1/openapi.json",
    auth=[TokenAuth(), SessionAuth()],
)
v1 = Router(tags=["v1"])


# ---- answers -------------------------------------------------------------------------


def _json(value: object, status: int = 200) -> HttpResponse:
    return HttpResponse(protocol.encode_json(value), status=status, content_type="application/json")


def _error(
    code: str,
    detail: str,
    *,
    client_id: str | None = None,
    retry_after_ms: int | None = None,
    status: int | None = None,
) -> HttpResponse:
    response = _json(
        Error(code=code, detail=detail, client_id=client_id, retry_after_ms=retry_after_ms),
        status or STATUS_OF.get(code, 400),
    )
    if retry_after_ms is not None:
        response["Retry-After"] = str(max(1, -(-retry_after_ms // 1000)))
    return response


@api.exception_handler(AuthenticationError)
def _not_authenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    if request.headers.get("Authorization"):
        return _error("invalid_token", "That token is not valid: it is unknown or revoked.")
    return _error("not_authenticated", "Send a token (Authorization: Bearer ...) or log in.")


@api.exception_handler(protocol.ProtocolError)
def _refused_frame(request: HttpRequest, exc: protocol.ProtocolError) -> HttpResponse:
    return _error(exc.code, exc.detail, client_id=exc.client_id)


@api.exception_handler(NinjaValidationError)
def _invalid_parameters(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    where = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
        for error in exc.errors
    )
    return _error(Error.INVALID_FIELD, f"Invalid parameters: {where}")


@api.exception_handler(Exception)
def _failed(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, OperationalError | InterfaceError):
        log.warning("api: database unavailable", extra={"error": repr(exc)})
        return _error(
            Error.UNAVAILABLE,
            "The server could not reach its database; nothing was stored. Ask again shortly.",
            retry_after_ms=RETRY_AFTER_FAILURE_MS,
        )
    log.exception("api call failed", extra={"path": request.path})
    return _error(
        Error.INTERNAL_ERROR,
        "The server failed on this call; it may or may not have been stored. Sending it "
        "again with the same client_id is safe.",
    )


# ---- what every call checks -----------------------------------------------------------


def _person(request: HttpRequest) -> User:
    """Whom the call acts as: ninja has authenticated it (token or session) before."""
    person = getattr(request, "auth", None)
    assert isinstance(person, User)
    return person


async def _room(request: HttpRequest, room_id: int) -> access.RoomAccess | None:
    return await sync_to_async(access.room_access)(_person(request), room_id)


def _no_room() -> HttpResponse:
    return _error(Error.NOT_FOUND, "No such room.")


async def _refused_by_limits(request: HttpRequest, client_id: str | None) -> HttpResponse | None:
    """Posts and changes share the socket's limits: per person, and per address."""
    person = _person(request)
    wait_ms = await runtime.current().limits.refused(
        (ratelimit.message_per_person(), str(person.pk)),
        (ratelimit.message_per_address(), request.META.get("REMOTE_ADDR", "")),
    )
    if wait_ms is None:
        return None
    return _error(
        Error.RATE_LIMITED,
        "Too many messages; this was not stored, send it again shortly.",
        client_id=client_id,
        retry_after_ms=wait_ms,
    )


async def _refused_reads(request: HttpRequest) -> HttpResponse | None:
    """Reads are limited per person too: a loop polling without `wait` is refused, not
    the database worn down."""
    wait_ms = await runtime.current().limits.refused(
        (ratelimit.read_per_person(), str(_person(request).pk))
    )
    if wait_ms is None:
        return None
    return _error(
        Error.RATE_LIMITED,
        "Too many calls; ask again shortly (the events call can wait for what is new).",
        retry_after_ms=wait_ms,
    )


def _frame(request: HttpRequest, frame_type: str, **fields: Any) -> protocol.ClientFrame:
    """The request's JSON body as the socket frame it stands for, validated as the socket
    validates it (the same limits, the same error codes)."""
    limit = settings.CHAT_FRAME_MAX_BYTES
    if len(request.body) > limit:
        raise protocol.ProtocolError(Error.FRAME_TOO_LARGE, f"Bodies are limited to {limit} bytes.")
    try:
        body = msgspec.json.decode(request.body) if request.body else {}
    except msgspec.DecodeError as exc:
        raise protocol.ProtocolError(
            Error.INVALID_JSON, f"The body is not valid JSON: {exc}"
        ) from None
    if not isinstance(body, dict):
        raise protocol.ProtocolError(Error.NOT_AN_OBJECT, "The body must be a JSON object.")
    if body.get("type", frame_type) != frame_type:
        raise protocol.ProtocolError(Error.INVALID_FIELD, f"`type`, if given, is {frame_type!r}.")
    raw = protocol.encode_json({**body, **fields, "type": frame_type})
    return protocol.decode_client_frame(
        raw,
        max_bytes=limit + 1024,  # the URL's fields added
        max_chars=settings.CHAT_MESSAGE_MAX_CHARS,
    )


def _refusal(error: Exception, client_id: str | None) -> HttpResponse:
    if isinstance(error, services.Refused):
        return _error(error.code, error.detail, client_id=client_id)
    if isinstance(error, services.RoomNotFound):
        return _no_room()
    if isinstance(error, services.OutcomeUnknown):
        return _error(
            Error.OUTCOME_UNKNOWN,
            "The server lost its database while storing this: it may or may not be stored. "
            "Send it again with the same client_id to find out; it is never stored twice.",
            client_id=client_id,
            retry_after_ms=RETRY_AFTER_FAILURE_MS,
        )
    if isinstance(error, services.NotStored):
        return _error(
            Error.UNAVAILABLE,
            "The server could not reach its database; this was not stored. Send it again.",
            client_id=client_id,
            retry_after_ms=RETRY_AFTER_FAILURE_MS,
        )
    raise error


# ---- rooms and history ----------------------------------------------------------------


@v1.get("/me", openapi_extra={"responses": {200: {"$ref": "Sender"}}})
async def me(request: HttpRequest):
    """Whom the token (or session) acts as."""
    if refused := await _refused_reads(request):
        return refused
    person = _person(request)
    return _json(protocol.Sender(id=person.pk, name=person.name))


@v1.get("/rooms", openapi_extra={"responses": {200: {"$ref": "RoomList"}}})
async def rooms(request: HttpRequest):
    """The rooms you are in, with what is unread."""
    if refused := await _refused_reads(request):
        return refused
    person = _person(request)
    summaries = await sync_to_async(selectors.room_summaries)(person_id=person.pk)
    return _json(protocol.RoomList(rooms=summaries))


@v1.get("/rooms/{room_id}", openapi_extra={"responses": {200: {"$ref": "RoomInfo"}}})
async def room(request: HttpRequest, room_id: IdInPath):
    """A room you may see, and its log's position (where to follow its events from)."""
    if refused := await _refused_reads(request):
        return refused
    entry = await _room(request, room_id)
    if entry is None:
        return _no_room()
    person = _person(request)
    title = await sync_to_async(selectors.room_title)(entry.room, viewer_id=person.pk)
    room = entry.room
    return _json(
        protocol.RoomInfo(
            id=room.pk,
            name=title,
            private=room.private,
            direct=room.direct,
            last_seq=room.last_seq,
            epoch=room.epoch,
        )
    )


@v1.get("/rooms/{room_id}/messages", openapi_extra={"responses": {200: {"$ref": "HistoryPage"}}})
async def messages(
    request: HttpRequest,
    room_id: IdInPath,
    before: SeqParam | None = None,
    after: SeqParam | None = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 50,
):
    """A page of messages as they are now, oldest first: the latest (neither `before`
    nor `after`), those just before a number, or those just after one (and, with both,
    before the other). `has_more`: there are more on the side the page was read from."""
    if refused := await _refused_reads(request):
        return refused
    if await _room(request, room_id) is None:
        return _no_room()
    if after is not None:
        page = await sync_to_async(selectors.messages_after)(
            room_id=room_id, after_seq=after, before_seq=before, limit=limit
        )
    else:
        page = await sync_to_async(selectors.messages_before)(
            room_id=room_id, before_seq=before, limit=limit
        )
    return _json(page)


@v1.get(
    "/rooms/{room_id}/events",
    openapi_extra={"responses": {200: {"oneOf": [{"$ref": "SyncResult"}, {"$ref": "Reset"}]}}},
)
async def events(
    request: HttpRequest,
    room_id: IdInPath,
    after: SeqParam = 0,
    epoch: Annotated[str | None, Query(max_length=16)] = None,
    wait: Annotated[float, Query(ge=0, le=60)] = 0,
):
    """The room's log after the number `after`: every event exactly as a socket gets it
    (`message.created`, `message.edited`, `reaction.changed`, ...), up to 500 at a time
    (`has_more`: ask again from `last_seq`). With `wait`, an answer with no events waits
    up to that many seconds (at most 25) for the next one: a long poll. A `reset` says
    your number cannot be trusted (another `epoch`, or too far behind): read the latest
    page and go on from its `last_seq`."""
    if refused := await _refused_reads(request):
        return refused
    if await _room(request, room_id) is None:
        return _no_room()

    def read() -> protocol.SyncResult | protocol.Reset | None:
        return selectors.catch_up(
            room_id=room_id,
            after_seq=after,
            epoch=epoch,
            page_max=settings.CHAT_CATCH_UP_MAX,
            resync_max=settings.CHAT_RESYNC_MAX,
        )

    answer = await sync_to_async(read)()
    wait = min(wait, settings.CHAT_API_WAIT_MAX_SECONDS)
    if isinstance(answer, protocol.SyncResult) and not answer.events and wait > 0:
        async with runtime.current().hub.following(room_id) as next_event:
            # Read again now that the room is followed: what committed in between is here.
            answer = await sync_to_async(read)()
            nothing_yet = isinstance(answer, protocol.SyncResult) and not answer.events
            if nothing_yet and await next_event(wait):
                # Asked again: the wait may have ended because the person left a private
                # room (its followers are closed), and then they see nothing more of it.
                if await _room(request, room_id) is None:
                    return _no_room()
                answer = await sync_to_async(read)()
    if answer is None:
        return _no_room()
    return _json(answer)


# ---- writes -----------------------------------------------------------------------------


@v1.post(
    "/rooms/{room_id}/messages",
    openapi_extra={
        "requestBody": {"$ref": "SendMessage"},
        "responses": {200: {"$ref": "WireMessage"}, 201: {"$ref": "WireMessage"}},
    },
)
async def post(request: HttpRequest, room_id: IdInPath):
    """Post a message (`text`, and optionally `reply_to`, `mentions`, `files`). Sending
    the same `client_id` again stores nothing new and answers the stored message (200,
    not 201): after any failure or timeout, send it again unchanged."""
    person = _person(request)
    frame = _frame(request, "message.send")
    assert isinstance(frame, protocol.SendMessage)
    entry = await _room(request, room_id)
    if entry is None:
        return _no_room()
    if refused := await _refused_by_limits(request, frame.client_id):
        return refused
    if entry.membership is None and not entry.room.private:
        # As opening a public room in the browser does: it is then one of your rooms.
        await sync_to_async(services.membership_join)(room=entry.room, person=person)
    stored = runtime.current().writer.submit(
        services.Post(
            room_id,
            person,
            frame.text,
            frame.client_id,
            frame.reply_to,
            tuple(frame.mentions),
            tuple(frame.files),
        )
    )
    try:
        message, is_new = await stored
    except Exception as error:
        return _refusal(error, frame.client_id)
    return _json(message, 201 if is_new else 200)


async def _change(request: HttpRequest, room_id: int, frame: Any, change, **arguments):
    if await _room(request, room_id) is None:
        return _no_room()
    if refused := await _refused_by_limits(request, frame.client_id):
        return refused
    try:
        message = await write_alone(change, room_id=room_id, **arguments)
    except Exception as error:
        return _refusal(error, frame.client_id)
    return _json(message)


@v1.patch(
    "/rooms/{room_id}/messages/{seq}",
    openapi_extra={
        "requestBody": {"$ref": "EditMessage"},
        "responses": {200: {"$ref": "WireMessage"}},
    },
)
async def edit(request: HttpRequest, room_id: IdInPath, seq: SeqInPath):
    """Replace the text of your message `seq` (`text`, optionally `mentions`). The same
    edit again changes nothing."""
    frame = _frame(request, "message.edit", message_seq=seq, client_id=_client_id(request))
    assert isinstance(frame, protocol.EditMessage)
    return await _change(
        request,
        room_id,
        frame,
        services.message_edit,
        editor=_person(request),
        message_seq=seq,
        text=frame.text,
        mentions=frame.mentions,
    )


@v1.delete(
    "/rooms/{room_id}/messages/{seq}", openapi_extra={"responses": {200: {"$ref": "WireMessage"}}}
)
async def delete(request: HttpRequest, room_id: IdInPath, seq: SeqInPath):
    """Delete your message `seq` (a room's owners and moderators: anyone's). It stays as a
    tombstone; deleting it again changes nothing."""
    frame = protocol.DeleteMessage(message_seq=seq, client_id=_client_id(request))
    return await _change(
        request, room_id, frame, services.message_delete, deleter=_person(request), message_seq=seq
    )


@v1.put(
    "/rooms/{room_id}/messages/{seq}/reactions/{emoji}",
    openapi_extra={"responses": {200: {"$ref": "WireMessage"}}},
)
async def react(request: HttpRequest, room_id: IdInPath, seq: SeqInPath, emoji: str):
    """React to message `seq` with one emoji (URL-encoded). Reacting again changes nothing."""
    return await _reaction(request, room_id, seq, emoji, services.reaction_add)


@v1.delete(
    "/rooms/{room_id}/messages/{seq}/reactions/{emoji}",
    openapi_extra={"responses": {200: {"$ref": "WireMessage"}}},
)
async def unreact(request: HttpRequest, room_id: IdInPath, seq: SeqInPath, emoji: str):
    """Take back your reaction to message `seq`."""
    return await _reaction(request, room_id, seq, emoji, services.reaction_remove)


async def _reaction(request: HttpRequest, room_id: int, seq: int, emoji: str, change):
    frame = _frame(
        request,
        "reaction.add",
        message_seq=seq,
        emoji=emoji,
        client_id=_client_id(request),
    )
    assert isinstance(frame, protocol.AddReaction)
    return await _change(
        request,
        room_id,
        frame,
        change,
        person=_person(request),
        message_seq=seq,
        emoji=frame.emoji,
    )


def _client_id(request: HttpRequest) -> str:
    """A change's id for logs and errors: the client's (`Idempotency-Key`), or a new one
    (edits, deletions and reactions are idempotent by what they say)."""
    given = request.headers.get("Idempotency-Key", "")
    return given if given else f"api-{secrets.token_hex(8)}"


# ---- search ---------------------------------------------------------------------------


@v1.get("/search", openapi_extra={"responses": {200: {"$ref": "SearchPage"}}})
async def search(
    request: HttpRequest,
    q: Annotated[str, Query(max_length=10_000)],
    room: SeqParam | None = None,
    before: SeqParam | None = None,
):
    """Messages with every word of `q` in the rooms you may see (or in `room`), newest
    first, 20 at a time (`next_before` for the next page)."""
    if refused := await _refused_reads(request):
        return refused
    person = _person(request)
    try:
        results = await sync_to_async(selectors.search_messages)(
            person=person, query=q, room_id=room, before=before
        )
    except selectors.SearchError as error:
        return _error(error.code, error.detail)
    if results is None:
        return _no_room()
    return _json(
        protocol.SearchPage(
            hits=[
                protocol.SearchHit(
                    room_id=hit.room_id,
                    room_name=hit.room_name,
                    seq=hit.seq,
                    sender=hit.sender,
                    sent_at=hit.sent_at,
                    snippet=[protocol.SnippetPiece(text, match) for text, match in hit.snippet],
                )
                for hit in results.hits
            ],
            next_before=results.next_before,
        )
    )


api.add_router("/v1/", v1)


# ---- the OpenAPI document's shapes, from the wire schema ---------------------------------

_SHAPES = (
    protocol.RoomList,
    protocol.RoomInfo,
    protocol.HistoryPage,
    protocol.WireMessage,
    protocol.SyncResult,
    protocol.Reset,
    protocol.SearchPage,
    protocol.SendMessage,
    protocol.EditMessage,
    Error,
)


def _components() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        _SHAPES, ref_template="#/components/schemas/{name}"
    )
    # Over HTTP the body's type is the URL's: a frame's `type` may be left out, and an
    # edit's message is the URL's too.
    for name, drop in (("SendMessage", ("type",)), ("EditMessage", ("type", "message_seq"))):
        shape = components[name]
        shape["required"] = [field for field in shape.get("required", ()) if field not in drop]
        for field in drop:
            if field != "type":
                shape["properties"].pop(field, None)
    shape = components["EditMessage"]
    shape["required"] = [f for f in shape["required"] if f != "client_id"]
    return components


def _ecma_patterns(schema: Any) -> Any:
    r"""The wire's patterns are Python's (\A...\Z: no final newline); OpenAPI's are
    ECMA-262's, where ^...$ means the same."""
    if isinstance(schema, dict):
        return {
            key: value.replace("\\A", "^").replace("\\Z", "$")
            if key == "pattern"
            else _ecma_patterns(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_ecma_patterns(value) for value in schema]
    return schema


_COMPONENTS = _ecma_patterns(_components())


def _expand_refs() -> None:
    """Turn the short `{"$ref": "Name"}` in the operations above into OpenAPI's forms,
    with every error answered as the socket's `error` frame."""
    error = {"description": "An error", "content": _content("Error")}
    for route in v1.path_operations.values():
        for operation in route.operations:
            extra = operation.openapi_extra or {}
            responses = extra.get("responses", {})
            for status, schema in list(responses.items()):
                responses[status] = {"description": "OK", "content": _content_of(schema)}
            responses["default"] = error
            if "requestBody" in extra:
                extra["requestBody"] = {
                    "required": True,
                    "content": _content_of(extra["requestBody"]),
                }


def _content(name: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _content_of(schema: dict) -> dict:
    if "$ref" in schema:
        return _content(schema["$ref"])
    choices = [{"$ref": f"#/components/schemas/{s['$ref']}"} for s in schema["oneOf"]]
    return {"application/json": {"schema": {"oneOf": choices}}}


_expand_refs()
