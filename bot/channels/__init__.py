"""The chat platforms: each module of this package is one channel (telegram, zalo, terminal).

A channel module offers `configured(settings) -> bool`, `channel_names(settings) -> list[str]`,
`METERED` (its messages count against a monthly quota), `channels_from(wiring) -> list[Channel]` and
`HOW_TO` (how to get a token, in Vietnamese). Adding a platform is adding a module here: `tiendo run`,
`tiendo serve`, the outbox sender and the CLI find it by itself.
"""

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from bot.files import FileLinks
    from bot.settings import Settings
    from bot.usage import Usage
    from handlers.types import Services

# Modules of this package that are not channels.
_HELPERS = {"base", "zalo_client"}


@dataclass
class Wiring:
    """What channel modules get to build their channels."""

    settings: "Settings"
    services: "Services"
    links: "FileLinks | None" = None
    usage: "Usage | None" = None
    # "poll": tiendo run; "webhook": tiendo serve; "send": only sending (tiendo nudge --send)
    mode: Literal["poll", "webhook", "send"] = "poll"
    titles: dict[str, str] = field(default_factory=dict)  # bot titles set with `tiendo bots set`


def modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _HELPERS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "channels_from"):
            found.append(module)
    # Zalo first: it is the first channel of this product.
    return sorted(found, key=lambda m: (m.__name__.rsplit(".", 1)[-1] != "zalo", m.__name__))


def any_configured(settings: "Settings") -> bool:
    return any(module.configured(settings) for module in modules())


def configured_names(settings: "Settings") -> dict[str, bool]:
    """The channels the settings configure, without building them: name -> metered."""
    return {name: bool(module.METERED) for module in modules() for name in module.channel_names(settings)}


def how_to() -> str:
    """How to get a token for each channel, Zalo first."""
    return " ".join(module.HOW_TO for module in modules() if getattr(module, "HOW_TO", ""))


def build(wiring: "Wiring") -> "dict[str, Channel]":
    channels: dict[str, Channel] = {}
    for module in modules():
        for channel in module.channels_from(wiring):
            channels[channel.name] = channel
    return channels
