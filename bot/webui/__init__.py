"""The web page of the organisation department, mounted at /web in the app of bot/web.py.

Starlette routes, Jinja2 templates, plain HTML and CSS (no script, no CDN, no build step). Login is a
one-time link asked for with /web in the chat; the session cookie is HttpOnly and SameSite=Strict,
every form carries the session's CSRF token. The figures come from handlers.web_views, the same code
as /tiendo.
"""

from bot.webui.app import PREFIX, mount

__all__ = ["PREFIX", "mount"]
