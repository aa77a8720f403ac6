"""The floor for bench_e2e: a bare python-telegram-bot echo bot behind a webhook.

    python -m bench._e2e_echo --port PORT --api BASE_URL --secret SECRET

The same web stack as `tiendo serve` (Starlette on uvicorn, its defaults), PTB's own update queue
(the custom-webhook pattern from PTB's examples, updates processed concurrently), no database and no
rate limiter: a text is sent back as it came; a button press is answered and its data sent back.
What is left per update is the framework's own cost: HTTP in, Update.de_json, dispatch, HTTP out.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None and update.effective_chat is not None:
        await context.bot.send_message(chat_id=update.effective_chat.id, text=update.message.text or "?")


async def echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is not None and update.effective_chat is not None:
        await query.answer()
        await context.bot.send_message(chat_id=update.effective_chat.id, text=query.data or "?")


async def main(port: int, api: str, secret: str) -> None:
    application = (
        Application.builder().token("123456:ECHO-TOKEN").base_url(api).concurrent_updates(True).build()
    )
    application.add_handler(CallbackQueryHandler(echo_press))
    application.add_handler(MessageHandler(filters.TEXT, echo_text))

    async def webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token") or ""
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"ok": False}, status_code=403)
        await application.update_queue.put(Update.de_json(await request.json(), application.bot))
        return JSONResponse({"ok": True})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/telegram/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    async with application:
        await application.bot.set_webhook(
            url=f"http://127.0.0.1:{port}/telegram/webhook", secret_token=secret
        )
        await application.start()
        await server.serve()  # until SIGTERM/SIGINT
        await application.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.port, args.api, args.secret))
