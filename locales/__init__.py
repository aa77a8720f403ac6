"""Gettext catalogs (one folder per language); see handlers.i18n."""

from pathlib import Path

LOCALES_DIR = Path(__file__).parent
DOMAIN = "tiendo"
