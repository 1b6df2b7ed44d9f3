import asyncio
import logging
import math
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import msgspec
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from chat import access, metrics, protocol, push, ratelimit, realtime, selectors, services
from chat.forms import DirectForm, GuestNameForm, JoinForm, RenameForm
from chat.models import Membership, User, name_key, stored_files
from chat.services import push as push_services
from chat.uploads import NEUTRAL_TYPE

log = logging.getLogger(__name__)


def _room_or_404(request: HttpRequest, room_id: int) -> access.RoomAccess:
    """The room, if the person may see it; a private room they are not in is as absent
    as a room that never existed."""
    entry = access.room_access(request.user, room_id)
    if entry is None:
        raise Http404("No such room.")
    return entry


def _front_page(
    request: HttpRequest,
    form: JoinForm,
    *,
    direct: DirectForm | None = None,
    status: int = 200,
) -> HttpResponse:
    mine = selectors.rooms_of(person_id=request.user.pk) if request.user.is_authenticated else []
    others = selectors.rooms_recent(person=request.user, exclude={r.room.pk for r in mine})
    if direct is None and request.user.is_authenticated:
        direct = DirectForm(auto_id="direct_%s")
    return render(
        request,
        "chat/index.html",
        {"form": form, "my_rooms": mine, "rooms": others, "direct": direct},
        status=status,
    )


def _people_joining(request: HttpRequest, name: str) -> list[ratelimit.Check]:
    """Whom a join counts against: the person logged in, and the name asked for unless it
    is theirs (so nobody can lock its owner out by asking for it again and again)."""
    checks = []
    if request.user.is_authenticated:
        checks.append((ratelimit.join_per_person(), f"user:{request.user.pk}"))
    if not request.user.is_authenticated or request.user.username != name_key(name):
        checks.append((ratelimit.join_per_person(), f"name:{name_key(name)}"))
    return checks


@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = JoinForm(request.POST)
        if form.is_valid():
            name, room_name = form.cleaned_data["name"], form.cleaned_data["room"]
            wait_ms = ratelimit.limits().refused(
                *_people_joining(request, name),
                (ratelimit.join_per_address(), request.META.get("REMOTE_ADDR") or "unknown"),
            )
            if wait_ms is not None:
                seconds = math.ceil(wait_ms / 1000)
                form.add_error(
                    None,
                    f"Too many joins in a short time. Please try again in {seconds} "
                    f"second{'s' if seconds != 1 else ''}.",
                )
                response = _front_page(request, form, status=429)
                response["Retry-After"] = str(seconds)
                return response
            try:
                user = services.guest_claim(name=name, current_user=request.user)
            except services.NameTaken:
                form.add_error(
                    "name",
                    f"“{name}” is already taken by someone else. Please choose another name.",
                )
            else:
                if user.pk != request.user.pk:
                    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                room = services.room_join(name=room_name, person=user)
                return redirect("chat:room", room_id=room.pk)
    else:
        initial = {"room": request.GET.get("room", "")}
        if request.user.is_authenticated:
            initial["name"] = request.user.name
        form = JoinForm(initial=initial)
    return _front_page(request, form)


PERMALINK_PAGE_MAX = 1000


@require_GET
def room(request: HttpRequest, room_id: int) -> HttpResponse:
    user = request.user
    if not isinstance(user, User):
        public = selectors.room_get(room_id=room_id)
        if public is None or public.private:
            # Whether a private room exists is for its members to know: log in first.
            return redirect(f"{reverse('accounts:login')}?{urlencode({'next': request.path})}")
        return redirect(f"{reverse('chat:index')}?{urlencode({'room': public.name})}")
    entry = _room_or_404(request, room_id)
    room = entry.room
    membership = entry.membership
    if membership is None and not room.private:
        membership = services.membership_join(room=room, person=user)  # opening it joins it
    # The position first: every event up to it is then reflected in the page read after
    # it, and the socket resumes from it (what it replays again changes nothing).
    last_seq, epoch = selectors.room_position(room_id=room.pk) or (0, "")
    title = selectors.room_title(room, viewer_id=user.pk)
    # A permalink (?at=SEQ, from search) opens the room at that message: the page loads
    # from just before it (up to a bound; older pages load on from there).
    at = _number(request.GET.get("at"))
    limit = None
    if at is not None and at <= last_seq:
        limit = min(PERMALINK_PAGE_MAX, max(settings.CHAT_HISTORY_PAGE_SIZE, last_seq - at + 11))
    page = selectors.messages_before(room_id=room.pk, limit=limit)
    config = {
        "room": {
            "id": room.pk,
            "name": title,
            "epoch": epoch,
            "private": room.private,
            "direct": room.direct,
        },
        # Owners, moderators and staff may delete anyone's message here.
        "me": {"id": user.pk, "name": user.name, "moderates": entry.moderates},
        "lastSeq": last_seq,
        "focusSeq": at if limit else None,
        # Where the person left off: the page marks what is new after it.
        "lastReadSeq": membership.last_read_seq if membership else last_seq,
        "notify": membership.notify if membership else Membership.NOTIFY_NONE,
        "firstSeq": page.messages[0].seq if page.messages else None,
        "hasOlder": page.has_more,
        "messages": msgspec.to_builtins(page.messages),
        "socketPath": f"/ws/rooms/{room.pk}/",
        "rooms": msgspec.to_builtins(selectors.room_summaries(person_id=user.pk)),
        "roomsUrl": reverse("chat:my_rooms"),
        "historyUrl": reverse("chat:room_messages", args=[room.pk]),
        "membersUrl": reverse("chat:room_members", args=[room.pk]),
        "maxChars": settings.CHAT_MESSAGE_MAX_CHARS,
        "files": {
            "url": reverse("chat:room_files", args=[room.pk]),
            "maxBytes": settings.CHAT_FILE_MAX_BYTES,
            "perMessage": protocol.FILES_PER_MESSAGE_MAX,
        },
        # Web Push, when this server has a VAPID key: the page subscribes with it.
        "push": {
            "key": push.public_key(),
            "url": reverse("chat:push_subscriptions"),
            "worker": reverse("chat:service_worker"),
        },
        "csrfToken": get_token(request),
    }
    return render(
        request,
        "chat/room.html",
        {
            "room": room,
            "title": title,
            "owns": entry.owns,
            "has_older": page.has_more,
            "config": config,
        },
    )


def _settings_page(request: HttpRequest, entry: access.RoomAccess, rename: RenameForm):
    room = entry.room
    invite_url = None
    if room.invite_token:
        invite_url = request.build_absolute_uri(reverse("chat:invite", args=[room.invite_token]))
    return render(
        request,
        "chat/settings.html",
        {
            "room": room,
            "title": selectors.room_title(room, viewer_id=request.user.pk),
            "owns": entry.owns,
            "rename": rename,
            "invite_url": invite_url,
            "members": selectors.room_members(room_id=room.pk),
            "roles": Membership.ROLES,
        },
        status=400 if rename.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def room_settings(request: HttpRequest, room_id: int) -> HttpResponse:
    """Who is in the room (for every member), and for its owners: its name, privacy,
    invitation link, everyone's role, and removing members of a private room."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': request.path})}")
    entry = _room_or_404(request, room_id)
    assert isinstance(request.user, User)
    rename = RenameForm(initial={"name": entry.room.name})
    if request.method == "GET":
        return _settings_page(request, entry, rename)
    action = request.POST.get("action", "")
    person = request.user
    try:
        if action == "rename":
            rename = RenameForm(request.POST)
            if not rename.is_valid():
                return _settings_page(request, entry, rename)
            services.room_rename(person=person, room_id=room_id, name=rename.cleaned_data["name"])
            messages.success(request, "Renamed.")
        elif action in ("private", "public"):
            services.room_privacy_set(person=person, room_id=room_id, private=action == "private")
            messages.success(
                request,
                "The room is private now: only its members see it."
                if action == "private"
                else "The room is public now: anyone can find and join it.",
            )
        elif action == "invite":
            services.invite_renew(person=person, room_id=room_id)
            messages.success(
                request, "A new invitation link is ready; any older one stopped working."
            )
        elif action == "uninvite":
            services.invite_revoke(person=person, room_id=room_id)
            messages.success(request, "The invitation link no longer works.")
        elif action in ("role", "remove"):
            member_id = int(request.POST.get("member", ""))
            if not 0 < member_id <= access.MAX_ID:
                raise ValueError(member_id)
            if action == "role":
                services.member_role_set(
                    person=person,
                    room_id=room_id,
                    member_id=member_id,
                    role=request.POST.get("role", ""),
                )
                messages.success(request, "Role changed.")
            else:
                services.member_remove(person=person, room_id=room_id, member_id=member_id)
                messages.success(request, "Removed from the room.")
        else:
            return HttpResponse("Unknown action.", status=400, content_type="text/plain")
    except ValueError:
        return HttpResponse("No such member.", status=400, content_type="text/plain")
    except services.Refused as refusal:
        if isinstance(refusal, services.NotFound) and action not in ("role", "remove"):
            raise Http404("No such room.") from None
        messages.error(request, refusal.detail)
    except (services.NotStored, services.OutcomeUnknown):
        messages.error(request, "The server could not save that just now; please try again.")
    return redirect("chat:room_settings", room_id=room_id)


@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """An invitation link: its room's name and a Join button (with a name field for someone
    who has none yet). A revoked or renewed link says so."""
    room = selectors.room_invited_to(token=token)
    if room is None:
        return render(request, "chat/invite.html", {"gone": True}, status=410)
    form = GuestNameForm(request.POST or None)
    if request.method == "POST":
        user = request.user
        if not isinstance(user, User):
            if not form.is_valid():
                return render(request, "chat/invite.html", {"room": room, "form": form}, status=400)
            try:
                user = services.guest_claim(name=form.cleaned_data["name"], current_user=user)
            except services.NameTaken:
                form.add_error("name", "That name is already taken. Please choose another.")
                return render(request, "chat/invite.html", {"room": room, "form": form}, status=400)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        try:
            room = services.invite_accept(person=user, token=token)
        except services.Gone:
            return render(request, "chat/invite.html", {"gone": True}, status=410)
        return redirect("chat:room", room_id=room.pk)
    return render(request, "chat/invite.html", {"room": room, "form": form})


@require_http_methods(["POST"])
def direct(request: HttpRequest) -> HttpResponse:
    """Start (or go back to) a direct conversation with the people named."""
    if not isinstance(request.user, User):
        return redirect(f"{reverse('accounts:login')}?{urlencode({'next': reverse('chat:index')})}")
    form = DirectForm(request.POST, auto_id="direct_%s")
    if form.is_valid():
        try:
            room = services.direct_open(person=request.user, names=form.names())
        except services.Refused as refusal:
            form.add_error("people", refusal.detail)
        else:
            return redirect("chat:room", room_id=room.pk)
    return _front_page(
        request, JoinForm(initial={"name": request.user.name}), direct=form, status=400
    )


def _number(value: str | None) -> int | None:
    """A positive id or room number from a URL, or None for anything else."""
    if value is None or not (value.isascii() and value.isdigit()):  # "²" is a digit too
        return None
    number = int(value)
    return number if 0 < number <= selectors.MAX_ID else None


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Messages in the rooms the person may see (or in `?room=`) holding every word of
    `?q=`, newest first, 20 at a time (`?before=` the last result's id)."""
    if not isinstance(request.user, User):
        next_page = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse('accounts:login')}?{next_page}")
    query = request.GET.get("q", "")
    room_id = _number(request.GET.get("room"))
    scope = access.room_access(request.user, room_id) if room_id else None
    if room_id and scope is None:
        raise Http404("No such room.")
    context: dict = {
        "query": query,
        "scope": scope,
        "scope_title": scope and selectors.room_title(scope.room, viewer_id=request.user.pk),
        "results": None,
        "error": None,
    }
    status = 200
    wait_ms = None
    if query.strip():
        # Searches from the page count as reads, as the API's do.
        wait_ms = ratelimit.limits().refused((ratelimit.read_per_person(), str(request.user.pk)))
    if wait_ms is not None:
        context["error"] = selectors.SearchError(
            "rate_limited", f"Too many searches; try again in {math.ceil(wait_ms / 1000)} s."
        )
        status = 429
    elif query.strip():
        try:
            context["results"] = selectors.search_messages(
                person=request.user,
                query=query,
                room_id=room_id,
                before=_number(request.GET.get("before")),
            )
        except selectors.SearchError as error:
            context["error"] = error
            status = 400
        if context["results"] is not None and context["results"].next_before:
            older = {"q": query, "before": context["results"].next_before}
            if room_id:
                older["room"] = room_id
            context["older_url"] = f"{reverse('chat:search')}?{urlencode(older)}"
    return render(request, "chat/search.html", context, status=status)


def _refused_json(request: HttpRequest, room_id: int) -> JsonResponse | None:
    """Why a room's JSON endpoint answers nothing to this person, or None."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not_authenticated"}, status=403)
    if access.room_access(request.user, room_id) is None:
        return JsonResponse({"error": "not_found", "detail": "No such room."}, status=404)
    return None


@require_GET
def room_messages(request: HttpRequest, room_id: int) -> HttpResponse:
    """A page of older history, as JSON: `?before=SEQ` gives the messages just before SEQ."""
    if refused := _refused_json(request, room_id):
        return refused
    try:
        before = int(request.GET["before"]) if "before" in request.GET else None
        if before is not None and not 0 <= before <= selectors.MAX_ID:
            raise ValueError(before)
    except ValueError:
        return JsonResponse(
            {"error": "invalid_field", "detail": "before must be a number"}, status=400
        )
    page = selectors.messages_before(room_id=room_id, before_seq=before)
    return HttpResponse(protocol.encode_json(page), content_type="application/json")


MENTION_PREFIX_MAX_CHARS = 40


@require_GET
def room_members(request: HttpRequest, room_id: int) -> HttpResponse:
    """Members of the room whose name starts with `?prefix=`, for the composer's "@"."""
    if refused := _refused_json(request, room_id):
        return refused
    prefix = request.GET.get("prefix", "").replace("\x00", "")[:MENTION_PREFIX_MAX_CHARS]
    people = selectors.members_by_prefix(
        room_id=room_id, prefix=prefix, exclude_id=request.user.pk or 0
    )
    return HttpResponse(protocol.encode_json({"people": people}), content_type="application/json")


@require_GET
def my_rooms(request: HttpRequest) -> HttpResponse:
    """The person's rooms with what is unread in each, as JSON (protocol.RoomsNow)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not_authenticated"}, status=403)
    rooms = protocol.RoomsNow(rooms=selectors.room_summaries(person_id=request.user.pk))
    return HttpResponse(protocol.encode_json(rooms), content_type="application/json")


HEALTH_TIMEOUT_SECONDS = 2.0


async def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: for a liveness probe."""
    return HttpResponse("ok\n", content_type="text/plain")


async def readyz(request: HttpRequest) -> HttpResponse:
    """The database and the channel layer answer within a short timeout: for a readiness
    probe or a load balancer. 503 with the failing part named otherwise."""
    checks = {"database": _database_answers, "channel_layer": realtime.layer_answers}
    failing = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), HEALTH_TIMEOUT_SECONDS)
        except Exception:
            log.warning("readiness check failed", extra={"check": name}, exc_info=True)
            failing.append(name)
    if failing:
        return HttpResponse(
            f"not ready: {', '.join(failing)}\n", status=503, content_type="text/plain"
        )
    return HttpResponse("ready\n", content_type="text/plain")


@database_sync_to_async
def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def metrics_page(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (chat/metrics.py). Expose it to the scraper only, at the proxy."""
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


@require_http_methods(["POST", "DELETE"])
def push_subscriptions(request: HttpRequest) -> HttpResponse:
    """This browser's Web Push subscription: POST keeps it for the person logged in (the
    body is PushSubscription.toJSON()), DELETE with {endpoint} forgets it."""
    user = request.user
    if not isinstance(user, User):
        return JsonResponse({"error": "not_authenticated"}, status=403)
    try:
        data = msgspec.json.decode(request.body)
    except msgspec.DecodeError:
        return JsonResponse(
            {"error": "invalid_subscription", "detail": "Send the subscription as JSON."},
            status=400,
        )
    if request.method == "DELETE":
        endpoint = data.get("endpoint") if isinstance(data, dict) else None
        if not isinstance(endpoint, str):
            return JsonResponse(
                {"error": "invalid_subscription", "detail": "Name the endpoint to forget."},
                status=400,
            )
        push_services.subscription_delete(person=user, endpoint=endpoint)
        return HttpResponse(status=204)
    if push.public_key() is None:
        return JsonResponse(
            {"error": "push_off", "detail": "This server does not send Web Push."}, status=404
        )
    try:
        # A secret of this session's: logging out (which ends it) stops this browser.
        token = request.session.setdefault(
            push_services.BROWSER_TOKEN_SESSION_KEY, secrets.token_urlsafe(24)
        )
        created = push_services.subscription_save(person=user, data=data, browser_token=token)
    except push_services.InvalidSubscription as error:
        return JsonResponse({"error": error.code, "detail": str(error)}, status=400)
    return JsonResponse({"subscribed": True}, status=201 if created else 200)


_WORKER = (Path(__file__).parent / "static" / "chat" / "sw.js").read_text()


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, from the site's root so that it may serve the whole site."""
    response = HttpResponse(_WORKER, content_type="text/javascript; charset=utf-8")
    # Browsers check for a new worker at least daily; a short cache keeps releases quick.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    """What makes the site an installable web app."""
    icon = static("chat/icon.svg")
    body = {
        "name": "Chat",
        "short_name": "Chat",
        "start_url": reverse("chat:index"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#4f46e5",  # the accent, as in the pages' theme-color
        "icons": [
            {"src": icon, "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            {"src": static("chat/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("chat/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    return JsonResponse(body, content_type="application/manifest+json")


# Reading pictures and storing bytes: off the thread every sync view and query of this
# process shares (a large picture takes a second to re-save), two at a time at most (each
# holds a decoded picture in memory).
_file_lane = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chat-files")


@require_http_methods(["POST"])
async def room_files(request: HttpRequest, room_id: int) -> HttpResponse:
    """Upload one file (multipart, field `file`) to the room, for a message to carry: the
    answer is its wire state (201), whose `key` the message names."""
    if refused := await sync_to_async(_refused_json)(request, room_id):
        return refused
    person = await request.auser()
    assert isinstance(person, User)
    loop = asyncio.get_running_loop()
    files = await loop.run_in_executor(_file_lane, lambda: request.FILES)  # parses the form
    upload = files.get("file")
    if upload is None or len(files) != 1:
        return JsonResponse(
            {"error": "invalid_field", "stored": False, "detail": "Send one file, as `file`."},
            status=400,
        )
    try:
        await sync_to_async(services.file_upload_allowed)(uploader=person, size=upload.size or 0)
        stored = await loop.run_in_executor(_file_lane, services.bytes_stored, upload)
        attachment = await sync_to_async(services.file_recorded)(
            stored, room_id=room_id, uploader=person
        )
    except services.UploadsLimited as refusal:
        response = JsonResponse(
            {
                "error": refusal.code,
                "stored": False,
                "detail": refusal.detail,
                "retry_after_ms": refusal.retry_after_ms,
            },
            status=429,
        )
        response["Retry-After"] = str(math.ceil(refusal.retry_after_ms / 1000))
        return response
    except services.Refused as refusal:
        too_large = isinstance(refusal, services.FileTooLarge | services.ImageTooLarge)
        return JsonResponse(
            {"error": refusal.code, "stored": False, "detail": refusal.detail},
            status=413 if too_large else 400,
        )
    return HttpResponse(
        protocol.encode_json(selectors.wire_file(attachment)),
        status=201,
        content_type="application/json",
    )


# What a downloaded file may do in the browser: nothing. Even opened on its own, an HTML or
# SVG file runs no script, loads nothing and is its own origin (sandbox).
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
DOWNLOAD_CHUNK_BYTES = 256 * 1024


async def attachment(request: HttpRequest, key: str, name: str) -> HttpResponseBase:
    """A file as uploaded, to whoever may see its room (chat.selectors.attachment_for).
    Pictures show in the browser; everything else downloads under its name, as bytes."""
    return await _serve(request, key, thumbnail=False)


async def thumbnail(request: HttpRequest, key: str) -> HttpResponseBase:
    return await _serve(request, key, thumbnail=True)


async def _serve(request: HttpRequest, key: str, *, thumbnail: bool) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    person = await request.auser()
    # asgiref's, as Django's own async views do (channels' closes the connection after).
    found = await sync_to_async(selectors.attachment_for)(person, key)
    if found is None or (thumbnail and not found.is_image):
        raise Http404("No such file.")
    name = (found.thumbnail if thumbnail else found.file).name
    storage = stored_files()
    try:
        opened = await asyncio.to_thread(storage.open, name, "rb")
    except FileNotFoundError:
        log.error("files: stored bytes are missing", extra={"key": key})
        raise Http404("No such file.") from None
    size = found.size if not thumbnail else await asyncio.to_thread(storage.size, name)
    inline = thumbnail or found.is_image
    response = StreamingHttpResponse(
        _chunks(opened) if request.method == "GET" else _nothing(opened),
        content_type="image/webp" if thumbnail else found.content_type if inline else NEUTRAL_TYPE,
    )
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(not inline, found.name) or ""
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # A file's bytes never change under its key; who may fetch it can, so only this
    # person's browser keeps it.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


async def _chunks(opened):
    try:
        while chunk := await asyncio.to_thread(opened.read, DOWNLOAD_CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(opened.close)


async def _nothing(opened):
    await asyncio.to_thread(opened.close)
    return
    yield b""
