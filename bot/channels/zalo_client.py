"""A thin async client for the Zalo Bot platform (https://bot.zaloplatforms.com/docs), over httpx.

Every method is `POST {base}/bot<TOKEN>/<method>` with a JSON body, answered by
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": "..."}`.
The client does not retry: a refusal, an HTTP error or a network failure raises `ZaloError`
and the caller decides what to do.
"""

import logging
import unicodedata
import urllib.request
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
MAX_TEXT = 2000

# Requests are built with this stand-in where the token goes, and `_TokenTransport` swaps the real
# token in at the last moment: httpx logs (and puts in its exceptions) the URL of the request it
# built, so the token never reaches a log line, whatever level "httpx" is set to.
_PLACEHOLDER = "***"
# Headroom above the long-poll wait, so that the platform answers (408) before our read times out.
_POLL_SLACK = 15.0


class ZaloError(Exception):
    """The platform refused a call (error_code from its answer), answered HTTP 4xx/5xx (error_code =
    HTTP status), or could not be reached (error_code 0)."""

    def __init__(self, error_code: int, description: str, method: str = "") -> None:
        self.error_code = error_code
        self.description = description
        self.method = method
        where = f"Zalo {method}" if method else "Zalo"
        super().__init__(f"{where}: error {error_code}: {description}")


class _TokenTransport(httpx.AsyncBaseTransport):
    """Puts the token into the path just before the request leaves, out of httpx's sight."""

    def __init__(self, inner: httpx.AsyncBaseTransport, token: str) -> None:
        self._inner = inner
        self._segment = f"/bot{quote(token, safe=':')}/".encode()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.replace(f"/bot{_PLACEHOLDER}/".encode(), self._segment, 1)
        real = httpx.Request(
            request.method,
            request.url.copy_with(raw_path=raw_path),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(real)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __repr__(self) -> str:
        return f"_TokenTransport({self._inner!r})"


def _default_transport(base_url: str) -> httpx.AsyncBaseTransport:
    # Passing our own transport turns off httpx's reading of HTTP(S)_PROXY, so honour it here.
    url = httpx.URL(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.host):
        return httpx.AsyncHTTPTransport(proxy=proxy)
    return httpx.AsyncHTTPTransport()


class ZaloClient:
    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 45.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not token:
            raise ValueError("Zalo bot token is empty")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        inner = transport if transport is not None else _default_transport(self.base_url)
        self._http = httpx.AsyncClient(transport=_TokenTransport(inner, token), timeout=timeout)

    def __repr__(self) -> str:
        return f"ZaloClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _redact(self, text: str) -> str:
        # Belt and braces: nothing we put in an exception or a log line may carry the token.
        return text.replace(self._token, _PLACEHOLDER).replace(quote(self._token, safe=":"), _PLACEHOLDER)

    async def _call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        url = f"{self.base_url}/bot{_PLACEHOLDER}/{method}"
        try:
            response = await self._http.post(
                url, json=params or {}, timeout=timeout if timeout is not None else self.timeout
            )
        except httpx.HTTPError as exc:
            detail = self._redact(str(exc)) or "no detail"
            raise ZaloError(0, f"{type(exc).__name__}: {detail}", method) from exc
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloError(status, f"HTTP {status}, not a JSON object", method)
        log.debug("zalo %s: HTTP %d ok=%s", method, status, body.get("ok"))
        description = self._redact(str(body.get("description") or response.reason_phrase or "no description"))
        if status >= 500:
            raise ZaloError(status, description, method)
        if status >= 400 or body.get("ok") is not True:
            code = body.get("error_code")
            raise ZaloError(code if isinstance(code, int) and code else status, description, method)
        return body.get("result")

    async def _call_dict(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self._call(method, params)
        # Some methods answer `true` or nothing; callers always get a dict.
        return result if isinstance(result, dict) else {}

    async def get_me(self) -> dict[str, Any]:
        return await self._call_dict("getMe")

    async def get_updates(self, timeout: int = 30) -> dict[str, Any] | None:
        """Long-polls for ONE update; None when none arrived within `timeout` seconds.

        "Nothing new" comes as HTTP 408, or as HTTP 200 with `error_code` 408 in the body (both seen
        from the live platform); an `ok: false` whose description is a time-out is read the same way.
        There is no offset: the platform serves updates it delivered before again while they are
        fresh, so the caller must recognise them (by message_id) and pause between polls.
        """
        try:
            # The documented body sends the wait as a string.
            result = await self._call(
                "getUpdates", {"timeout": str(timeout)}, timeout=max(self.timeout, timeout + _POLL_SLACK)
            )
        except ZaloError as exc:
            if exc.error_code == 408 or (exc.error_code == 200 and "timeout" in exc.description.lower()):
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def set_webhook(self, url: str, secret_token: str) -> dict[str, Any]:
        """The platform takes only an https:// URL and a secret of 8 to 256 characters."""
        return await self._call_dict("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> dict[str, Any]:
        return await self._call_dict("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any] | None:
        """The webhook set, or None when there is none (the platform answers that with a 404)."""
        try:
            info = await self._call_dict("getWebhookInfo")
        except ZaloError as exc:
            if exc.error_code == 404:
                return None
            raise
        return info if info.get("url") else None

    async def send_message(self, chat_id: str, text: str) -> list[dict[str, Any]]:
        """Sends `text`, split into messages of at most MAX_TEXT, one after the other in order.

        Blank text sends nothing. If a part fails, ZaloError is raised and the parts before it
        have already been delivered.
        """
        return [
            await self._call_dict("sendMessage", {"chat_id": chat_id, "text": part})
            for part in split_text(text)
        ]

    async def send_text(self, chat_id: str, text: str) -> dict[str, Any]:
        """One sendMessage: `text` must already fit (see `split_text`)."""
        if not text.strip() or _units(text) > MAX_TEXT:
            raise ValueError(f"a Zalo message takes 1 to {MAX_TEXT} characters; split it first")
        return await self._call_dict("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            params["caption"] = caption
        return await self._call_dict("sendPhoto", params)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> dict[str, Any]:
        return await self._call_dict("sendChatAction", {"chat_id": chat_id, "action": action})


def _units(text: str) -> int:
    # Measured in UTF-16 code units, as JavaScript/Java count: an emoji counts 2, so we never go over.
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """The length of the longest prefix of `text` within `limit` units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Splits `text` into parts of at most `limit` characters (UTF-16 units), in order.

    Cuts at a blank line or a line end when that keeps at least half a part, else at the last space,
    and only inside a word longer than a whole part. The separator cut at is dropped. Blank text
    gives no part.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if not text.strip():
        return []
    parts: list[str] = []
    rest = text
    while _units(rest) > limit:
        fit = _fit(rest, limit)
        cut, dropped = 0, ""
        for separator in ("\n\n", "\n", " "):
            # The separator is dropped, so it may run past the limit; the part before it may not.
            at = rest.rfind(separator, 0, fit + len(separator))
            if at > 0 and (separator == " " or at >= fit // 2):
                cut, dropped = at, separator
                break
        if not cut:
            # A word longer than a part: cut inside it, but never before its first character, and
            # not between a letter and its combining marks (decomposed Vietnamese).
            cut = max(fit, 1)
            while cut > 1 and unicodedata.combining(rest[cut]):
                cut -= 1
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut + len(dropped) :]
        # Line ends left at the cut are useless; spaces after a line end are indentation, kept.
        rest = rest.lstrip(" \n") if dropped == " " else rest.lstrip("\n")
    if rest.strip():
        parts.append(rest.rstrip())
    return parts
