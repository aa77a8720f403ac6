"""Routes of the web page. Database work runs in a worker thread (the sync engine, as elsewhere)."""

import base64
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from handlers import imports, web_views
from handlers.formatting import day, number, percent
from handlers.i18n import refusal, t
from handlers.types import Services
from storage import accounts, campaigns, units, web_sessions
from storage.db import Database
from storage.errors import InvalidInput, StorageError
from storage.models import Account, Role, Unit

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "tiendo_web"
PREFIX = "/web"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SECURITY_HEADERS = {
    # No script anywhere on the page; images are ours or inline QR codes.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # login links carry a token in the path
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True
)
templates.filters.update(number=number, percent=percent, day=day)
templates.globals["t"] = t


@dataclass
class Viewer:
    account: Account
    own: Unit
    csrf: str
    token: str

    @property
    def admin(self) -> bool:
        return self.account.role == Role.admin


class WebUI:
    def __init__(self, database: Database, services: Services) -> None:
        self.database = database
        self.services = services

    @property
    def secure(self) -> bool:
        return self.services.web_base_url.startswith("https://")

    # --- plumbing --------------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(prefix=PREFIX, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def message(self, title: str, text: str, status: int, viewer: Viewer | None = None) -> HTMLResponse:
        return self.render("message.html", status, title=title, text=text, viewer=viewer)

    def in_session(self, work: Callable[[Session], Any]) -> Awaitable[Any]:
        def run() -> Any:
            with self.database.session() as session:
                return work(session)

        return run_in_threadpool(run)

    async def viewer(self, request: Request) -> Viewer | None:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        now = self.services.now()

        def find(session: Session) -> Viewer | None:
            found = web_sessions.find_session(session, token, now=now)
            if found is None:
                return None
            row, account = found
            own = session.get(Unit, account.unit_id)
            return None if own is None else Viewer(account, own, row.csrf, token)

        return await self.in_session(find)

    def login_needed(self) -> HTMLResponse:
        return self.message(t("web.login_needed.title"), t("web.login_needed.text"), 401)

    async def form(self, request: Request, viewer: Viewer) -> Any:
        """The posted form, once its CSRF token matches the session's; None otherwise."""
        # The confirmation of an import posts the previewed file back in base64 (4/3 of its size).
        form = await request.form(max_files=1, max_part_size=imports.MAX_BYTES * 4 // 3 + 4096)
        given = str(form.get("csrf") or "")
        if not given or not hmac.compare_digest(given.encode(), viewer.csrf.encode()):
            return None
        return form

    def forbidden(self, viewer: Viewer | None = None) -> HTMLResponse:
        return self.message(t("web.forbidden.title"), t("web.forbidden.text"), 403, viewer)

    # --- login -----------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = self.services.now()
        valid = await self.in_session(lambda s: web_sessions.login_valid(s, token, now=now))
        if not valid:
            return self.message(t("web.login_invalid.title"), t("web.login_invalid.text"), 410)
        # A button, not an automatic login: link previews of the messengers fetch the link too.
        return self.render("login.html", token=token, viewer=None)

    async def login(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = self.services.now()
        opened = await self.in_session(
            lambda s: web_sessions.redeem_login(s, token, now=now, ttl=self.services.web_session_ttl)
        )
        if opened is None:
            return self.message(t("web.login_invalid.title"), t("web.login_invalid.text"), 410)
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=int(self.services.web_session_ttl.total_seconds()),
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )
        return response

    async def logout(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is not None:
            if await self.form(request, viewer) is None:
                return self.forbidden(viewer)
            await self.in_session(lambda s: web_sessions.end_session(s, viewer.token))
        response = self.message(t("web.logged_out.title"), t("web.logged_out.text"), 200)
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=self.secure)
        return response

    # --- progress --------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self.login_needed()
        return RedirectResponse(f"{PREFIX}/unit/{viewer.own.id}", status_code=303)

    async def _unit(self, request: Request) -> tuple[Viewer, Unit] | Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self.login_needed()
        raw = request.path_params["unit_id"]
        # Ids are 32-bit: a larger number is no unit (PostgreSQL refuses to compare it at all).
        unit = await self.in_session(lambda s: s.get(Unit, raw)) if 0 < raw < 2**31 else None
        if unit is None or not web_views.may_see(viewer.account, viewer.own, unit):
            return self.forbidden(viewer)
        return viewer, unit

    def _page(self, session: Session, unit: Unit, request: Request) -> web_views.ProgressPage:
        today = self.services.today()
        choice = web_views.read_period(session, unit, request.query_params.get("ky", ""), today)
        return web_views.progress_page(
            session,
            unit,
            today,
            choice,
            threshold=self.services.lagging_threshold,
            sort=request.query_params.get("sort", "rank"),
        )

    async def progress(self, request: Request) -> Response:
        found = await self._unit(request)
        if isinstance(found, Response):
            return found
        viewer, unit = found

        def build(session: Session) -> dict[str, Any]:
            page = self._page(session, unit, request)
            return {
                "page": page,
                "crumbs": web_views.breadcrumb(session, viewer.account, unit),
                "drill": viewer.account.role != Role.secretary,
            }

        context = await self.in_session(build)
        ky = context["page"].period.text
        return self.render(
            "progress.html",
            viewer=viewer,
            quick=web_views.QUICK_PERIODS,
            query=lambda **extra: _query(**{"ky": ky, **extra}),
            **context,
        )

    async def chart(self, request: Request) -> Response:
        found = await self._unit(request)
        if isinstance(found, Response):
            return found
        _, unit = found
        from handlers import exports

        data = await self.in_session(lambda s: self._page(s, unit, request).data)
        png = await run_in_threadpool(exports.progress_chart, data)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def workbook(self, request: Request) -> Response:
        found = await self._unit(request)
        if isinstance(found, Response):
            return found
        _, unit = found
        from handlers import exports

        data = await self.in_session(lambda s: self._page(s, unit, request).data)
        xlsx = await run_in_threadpool(exports.progress_workbook, data)
        name = exports.progress_filename(data, "xlsx")
        return Response(xlsx, media_type=XLSX, headers=_attachment(name))

    # --- reports ---------------------------------------------------------------------------------

    async def reports(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self.login_needed()
        params = request.query_params
        page_no = _int(params.get("trang"), 1)

        def build(session: Session) -> dict[str, Any] | None:
            unit = session.get(Unit, _int(params.get("don_vi"), viewer.own.id or 0)) or viewer.own
            if not web_views.may_see(viewer.account, viewer.own, unit):
                return None
            choice = web_views.read_period(session, unit, params.get("ky", ""), self.services.today())
            rows, more = web_views.report_rows(
                session, unit, choice.period, zone=self.services.timezone, page=page_no
            )
            options = (
                _unit_options(session, viewer) if viewer.account.role != Role.secretary else [viewer.own]
            )
            return {"unit": unit, "choice": choice, "rows": rows, "more": more, "options": options}

        context = await self.in_session(build)
        if context is None:
            return self.forbidden(viewer)
        return self.render(
            "reports.html",
            viewer=viewer,
            page_no=page_no,
            query=lambda **extra: _query(
                **{"don_vi": context["unit"].id, "ky": context["choice"].text, **extra}
            ),
            **context,
        )

    # --- administration --------------------------------------------------------------------------

    async def _admin(self, request: Request) -> Viewer | Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self.login_needed()
        if not viewer.admin:
            return self.message(t("web.admin_only.title"), t("web.admin_only.text"), 403, viewer)
        return viewer

    async def admin(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        tops = await self.in_session(lambda s: _unit_options(s, viewer))
        added = await self.in_session(lambda s: web_views.breakdown_rows(s, viewer.account, viewer.own))
        return self.render("admin.html", viewer=viewer, units=tops, breakdowns=added)

    async def template_file(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        kind, ext = request.path_params["kind"], request.path_params["ext"]
        if kind not in ("units", "targets") or ext not in ("xlsx", "csv"):
            return self.message(t("web.not_found.title"), t("web.not_found.text"), 404, viewer)
        data = imports.template_xlsx(kind) if ext == "xlsx" else imports.template_csv(kind)
        name = f"mau-{'don-vi' if kind == 'units' else 'chi-tieu'}.{ext}"
        media = XLSX if ext == "xlsx" else "text/csv; charset=utf-8"
        return Response(data, media_type=media, headers=_attachment(name))

    async def import_file(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        kind = request.path_params["kind"]
        if kind not in ("units", "targets"):
            return self.message(t("web.not_found.title"), t("web.not_found.text"), 404, viewer)
        form = await self.form(request, viewer)
        if form is None:
            return self.forbidden(viewer)
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            data, filename = await upload.read(), upload.filename
        elif form.get("data"):
            # The confirmation posts the previewed file back: checked again in full before writing.
            try:
                data = base64.b64decode(str(form.get("data")), validate=True)
            except ValueError:
                return self.message(
                    t("web.import.bad_form.title"), t("web.import.bad_form.text"), 400, viewer
                )
            filename = str(form.get("filename") or "tep.csv")
        else:
            return self.message(t("web.import.no_file.title"), t("web.import.no_file.text"), 400, viewer)
        confirm = form.get("step") == "confirm"

        def run(session: Session) -> imports.Preview:
            if kind == "units":
                return (imports.import_units if confirm else imports.preview_units)(session, data, filename)
            return (imports.import_targets if confirm else imports.preview_targets)(session, data, filename)

        try:
            preview = await self.in_session(run)
        except StorageError as error:  # refused by storage after the preview's checks (a race)
            return self.message(t("web.import.failed"), refusal(error), 400, viewer)
        return self.render(
            "import.html",
            status=200 if not preview.problems else 422,
            viewer=viewer,
            preview=preview,
            kind=kind,
            done=confirm and preview.ok,
            filename=filename,
            data=base64.b64encode(data).decode("ascii"),
        )

    async def targets_bulk(self, request: Request) -> Response:
        """The same target for every sub-unit or cell of a unit: previewed like an uploaded sheet."""
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        form = await self.form(request, viewer)
        if form is None:
            return self.forbidden(viewer)
        unit_id = _int(form.get("unit"), 0)
        fields = {
            k: str(form.get(k) or "").strip()[:200]
            for k in ("who", "metric", "start", "end", "value", "max", "source")
        }

        def run(session: Session) -> tuple[bytes, imports.Preview] | None:
            unit = _within(session, viewer, unit_id)
            if unit is None:
                return None
            data = imports.bulk_target_sheet(
                session,
                unit,
                who=fields["who"],
                metric=fields["metric"],
                start=fields["start"],
                end=fields["end"],
                value=fields["value"],
                maximum=fields["max"],
                source=fields["source"],
            )
            return data, imports.preview_targets(session, data, "chi-tieu.csv")

        done = await self.in_session(run)
        if done is None:
            return self.forbidden(viewer)
        data, preview = done
        return self.render(
            "import.html",
            status=200 if not preview.problems else 422,
            viewer=viewer,
            preview=preview,
            kind="targets",
            done=False,
            filename="chi-tieu.csv",
            data=base64.b64encode(data).decode("ascii"),
        )

    async def invites(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        form = await self.form(request, viewer)
        if form is None:
            return self.forbidden(viewer)
        unit_id, days = _int(form.get("unit"), 0), _int(form.get("days"), 30)
        who = str(form.get("who") or "cells")
        now = self.services.now()

        def make(session: Session) -> tuple[Unit | None, list[web_views.InviteCard]]:
            unit = _within(session, viewer, unit_id)
            if unit is None:
                return None, []
            cards = web_views.invite_cards(
                session, unit, who=who, days=max(1, min(days, 365)), now=now, bot_link=self.services.bot_link
            )
            return unit, cards

        try:
            unit, cards = await self.in_session(make)
        except StorageError as error:
            return self.message(t("web.invites.failed"), refusal(error), 400, viewer)
        if unit is None:
            return self.forbidden(viewer)
        return self.render(
            "invites.html", viewer=viewer, unit=unit, cards=cards, bot_link=self.services.bot_link
        )

    async def accounts_page(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        unit_id = _int(request.query_params.get("don_vi"), viewer.own.id or 0)

        def build(session: Session) -> dict[str, Any] | None:
            unit = _within(session, viewer, unit_id)
            if unit is None:
                return None
            return {
                "unit": unit,
                "rows": web_views.accounts_in(session, unit),
                "units": _unit_options(session, viewer),
            }

        context = await self.in_session(build)
        if context is None:
            return self.forbidden(viewer)
        return self.render(
            "accounts.html", viewer=viewer, done=request.query_params.get("da_thu_hoi"), **context
        )

    async def revoke(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        form = await self.form(request, viewer)
        if form is None:
            return self.forbidden(viewer)
        account_id = _int(request.path_params["account_id"], 0)
        now = self.services.now()

        def run(session: Session) -> tuple[str, int] | None:
            account = session.get(Account, account_id)
            if account is None or _within(session, viewer, account.unit_id) is None:
                return None
            if not accounts.revoke_account(
                session, account, by_account_id=viewer.account.id, via="web", now=now
            ):
                raise InvalidInput("web.accounts.already_revoked")
            return account.display_name or account.channel_user_id, account.unit_id

        try:
            done = await self.in_session(run)
        except StorageError as error:
            return self.message(t("web.accounts.failed"), refusal(error), 400, viewer)
        if done is None:
            return self.message(t("web.not_found.title"), t("web.not_found.text"), 404, viewer)
        back = urlencode({"don_vi": str(form.get("back") or done[1]), "da_thu_hoi": done[0]})
        return RedirectResponse(f"{PREFIX}/admin/accounts?{back}", status_code=303)

    async def campaign_page(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        unit_id = _int(request.query_params.get("don_vi"), viewer.own.id or 0)
        today = self.services.today()

        def build(session: Session) -> dict[str, Any] | None:
            unit = _within(session, viewer, unit_id)
            if unit is None:
                return None
            view = web_views.campaign_view(session, unit, today, threshold=self.services.lagging_threshold)
            return {"unit": unit, "view": view, "units": _unit_options(session, viewer)}

        context = await self.in_session(build)
        if context is None:
            return self.forbidden(viewer)
        return self.render(
            "campaign.html",
            viewer=viewer,
            kinds=campaigns.KINDS,
            saved=request.query_params.get("da_luu") == "1",
            **context,
        )

    async def campaign_save(self, request: Request) -> Response:
        viewer = await self._admin(request)
        if isinstance(viewer, Response):
            return viewer
        form = await self.form(request, viewer)
        if form is None:
            return self.forbidden(viewer)
        scope_id = _int(form.get("don_vi"), 0)
        now = self.services.now()

        def run(session: Session) -> bool:
            scope = _within(session, viewer, scope_id)
            if scope is None:
                return False
            for unit in [scope, *units.active_children(session, scope)]:
                for kind in campaigns.KINDS:
                    enabled = form.get(f"on-{unit.id}-{kind}") == "1"
                    campaigns.set_kind(session, unit, kind, enabled=enabled, now=now)
            return True

        if not await self.in_session(run):
            return self.forbidden(viewer)
        return RedirectResponse(
            f"{PREFIX}/admin/campaign?{urlencode({'don_vi': scope_id, 'da_luu': 1})}", status_code=303
        )

    async def style(self, request: Request) -> Response:
        css = (HERE / "static" / "style.css").read_bytes()
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


def _within(session: Session, viewer: Viewer, unit_id: int) -> Unit | None:
    """The unit, if the viewer may see it (the rules of /tiendo); None otherwise, answered as "not
    allowed". Every administration form names its unit by id: a forged id must not reach further."""
    unit = session.get(Unit, unit_id)
    if unit is None or not web_views.may_see(viewer.account, viewer.own, unit):
        return None
    return unit


def _unit_options(session: Session, viewer: Viewer) -> list[Unit]:
    """Units to pick from: the committees of the viewer's tree (cells are reached through them)."""
    tops = web_views.top_of(session, viewer.account)
    found: list[Unit] = []
    for top in tops:
        found += session.exec(
            select(Unit)
            .where(
                col(Unit.path).startswith(top.path), col(Unit.merged_into_id).is_(None), ~col(Unit.is_leaf)
            )
            .order_by(col(Unit.path))
            .limit(1000)
        ).all()
    return found or tops


def _int(value: Any, default: int) -> int:
    text = str(value or "")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500 for ?trang=²).
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else default


def _query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"}


def mount(database: Database, services: Services) -> Mount:
    ui = WebUI(database, services)
    return Mount(
        PREFIX,
        routes=[
            Route("/", ui.home, methods=["GET"]),
            Route("/style.css", ui.style, methods=["GET"]),
            Route("/login/{token}", ui.login_page, methods=["GET"]),
            Route("/login/{token}", ui.login, methods=["POST"]),
            Route("/logout", ui.logout, methods=["POST"]),
            Route("/unit/{unit_id:int}", ui.progress, methods=["GET"]),
            Route("/unit/{unit_id:int}/chart.png", ui.chart, methods=["GET"]),
            Route("/unit/{unit_id:int}/tien-do.xlsx", ui.workbook, methods=["GET"]),
            Route("/reports", ui.reports, methods=["GET"]),
            Route("/admin", ui.admin, methods=["GET"]),
            Route("/admin/template/{kind}.{ext}", ui.template_file, methods=["GET"]),
            Route("/admin/import/{kind}", ui.import_file, methods=["POST"]),
            Route("/admin/invites", ui.invites, methods=["POST"]),
            Route("/admin/targets", ui.targets_bulk, methods=["POST"]),
            Route("/admin/accounts", ui.accounts_page, methods=["GET"]),
            Route("/admin/accounts/{account_id:int}/revoke", ui.revoke, methods=["POST"]),
            Route("/admin/campaign", ui.campaign_page, methods=["GET"]),
            Route("/admin/campaign", ui.campaign_save, methods=["POST"]),
        ],
    )
