"""A stand-in of systemd for the units under deploy/: reads a unit file and starts its command lines
the way systemd would (systemd.service(5), systemd.exec(5)), so that a test runs them as written.

What it does as systemd does: the [Service] keys the units use; ExecStartPre= run to completion
before ExecStart=, a failure stopping the start; command lines split with systemd's quoting, the
specifiers %i and %% replaced; a clean environment (systemd's default PATH, no LANG, nothing of the
caller's) plus Environment= and then EnvironmentFile= (which override it); WorkingDirectory=;
UMask=; CacheDirectory= exported as CACHE_DIRECTORY; KillSignal= to stop, TimeoutStopSec= to wait.
What it cannot do here: switch to User=/Group= (the tests run as whoever runs them), build the
sandbox (ProtectSystem=, ReadWritePaths=...: `systemd-analyze verify` checks those settings), or log
to the journal (the output is captured instead). Anything else in a unit it refuses rather than
ignores, so that a unit never says more than what the tests ran.
"""

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"  # the system manager's default
SUPPORTED = {
    "Type",
    "User",
    "Group",
    "WorkingDirectory",
    "EnvironmentFile",
    "Environment",
    "CacheDirectory",
    "ExecStartPre",
    "ExecStart",
    "Restart",
    "RestartSec",
    "KillSignal",
    "TimeoutStopSec",
    "UMask",
    # The sandbox: not reproduced here (see the module's docstring).
    "NoNewPrivileges",
    "PrivateTmp",
    "ProtectSystem",
    "ProtectHome",
    "ReadWritePaths",
}


def read_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (a key may repeat: ExecStartPre=, Environment=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        while line.endswith("\\"):  # continued on the next line
            line = line[:-1] + " " + next(lines).strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting outside any section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a setting: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def environment_file(text: str) -> dict[str, str]:
    """KEY=value lines as systemd reads them (systemd.exec(5), EnvironmentFile=): empty lines, lines
    starting with # or ; and lines without = are ignored; a # after a value is part of the value;
    leading and trailing whitespace goes; a value may be quoted; a backslash keeps the next character
    and, at the end of a line, continues the value on the next one."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        while value.endswith("\\") and not value.endswith("\\\\"):
            value = value[:-1] + next(lines, "").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1] if value[0] == "'" else _unescape(value[1:-1])
        else:
            value = _unescape(value)
        values[key.strip()] = value
    return values


def _environment_assignments(value: str) -> dict[str, str]:
    """Environment=: space-separated assignments, each may be quoted."""
    return dict(word.split("=", 1) for word in shlex.split(value))


def command_line(value: str, instance: str | None) -> list[str]:
    """An Exec*= line as systemd splits it: quoting as in systemd.syntax(7), specifiers replaced.
    Prefixes (-, @, +, !) and $VARIABLE expansion are not used by our units, so they are refused."""
    assert value[:1] not in "-@:+!", f"prefix not supported here: {value}"
    assert "$" not in value, f"variable expansion not supported here: {value}"

    def specifier(match: re.Match[str]) -> str:
        if match.group(1) == "%":
            return "%"
        if match.group(1) == "i":
            assert instance is not None, "%i in a unit that is not a template"
            return instance
        raise AssertionError(f"specifier %{match.group(1)} not supported here")

    return shlex.split(re.sub(r"%(.)", specifier, value))


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min|ms)?", value)
    assert match, f"time span not supported here: {value}"
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"s": 1, "sec": 1, "min": 60, "ms": 0.001}[unit]


@dataclass
class Service:
    """One [Service] section, its paths already moved (`paths`: the unit's path -> the test's)."""

    settings: dict[str, list[str]]
    instance: str | None = None
    replaced: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, paths: Mapping[str, str], instance: str | None = None) -> "Service":
        text = path.read_text(encoding="utf-8")
        replaced = []
        # Longest first, so that /opt/tiendo/app/.env is moved before /opt/tiendo/app.
        for old, new in sorted(paths.items(), key=lambda item: len(item[0]), reverse=True):
            if old in text:
                text = text.replace(old, new)
                replaced.append((old, new))
        settings = read_unit(text)["Service"]
        unknown = set(settings) - SUPPORTED
        assert not unknown, f"{path.name}: settings this stand-in does not reproduce: {unknown}"
        return cls(settings, instance, replaced)

    def one(self, key: str, default: str | None = None) -> str:
        values = self.settings.get(key)
        if not values:
            assert default is not None, f"{key}= is not set"
            return default
        assert len(values) == 1, f"{key}= given {len(values)} times"
        return values[0]

    def environment(self) -> dict[str, str]:
        env = {"PATH": DEFAULT_PATH}
        for value in self.settings.get("Environment", []):
            env.update(_environment_assignments(value))
        for value in self.settings.get("EnvironmentFile", []):
            optional = value.startswith("-")
            path = Path(value.removeprefix("-"))
            if optional and not path.exists():
                continue
            env.update(environment_file(path.read_text(encoding="utf-8")))
        if "CacheDirectory" in self.settings:
            env["CACHE_DIRECTORY"] = str(self.cache_directory())
        return env

    def cache_directory(self) -> Path:
        """/var/cache/<CacheDirectory=>, or where the test moved it; systemd creates it before starting."""
        where = f"/var/cache/{self.one('CacheDirectory')}"
        moved = Path(dict(self.replaced).get(where, where))
        moved.mkdir(parents=True, exist_ok=True)
        return moved

    def _umask(self) -> int:
        return int(self.one("UMask", "0022"), 8)

    def _popen(self, argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        mask = self._umask()
        return subprocess.Popen(
            argv,
            cwd=self.one("WorkingDirectory", "/"),
            env={**self.environment(), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=lambda: os.umask(mask),  # what systemd does before exec
        )

    def start_pre(self, timeout: float = 120) -> list[subprocess.CompletedProcess[str]]:
        """Every ExecStartPre=, in order; a failing one stops there (as it fails the start)."""
        done = []
        for value in self.settings.get("ExecStartPre", []):
            argv = command_line(value, self.instance)
            process = self._popen(argv)
            out, err = process.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(argv, process.returncode, out, err))
            if process.returncode != 0:
                break
        return done

    def start(self) -> subprocess.Popen[str]:
        (value,) = self.settings["ExecStart"]
        return self._popen(command_line(value, self.instance))

    def run(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A Type=oneshot service: its ExecStart= to completion."""
        assert self.one("Type") == "oneshot"
        (value,) = self.settings["ExecStart"]
        argv = command_line(value, self.instance)
        process = self._popen(argv)
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(argv, process.returncode, out, err)

    def stop(self, process: subprocess.Popen[str]) -> tuple[float, str, str]:
        """Send KillSignal= and wait up to TimeoutStopSec= (systemd would then SIGKILL: a failure
        here). Returns the seconds it took, and the output."""
        import time

        kill = getattr(signal, self.one("KillSignal", "SIGTERM"))
        limit = _seconds(self.one("TimeoutStopSec", "90s"))
        started = time.monotonic()
        process.send_signal(kill)
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"did not stop within TimeoutStopSec={limit:.0f}s:\n{err[-3000:]}") from None
        return time.monotonic() - started, out, err

    @staticmethod
    def clean_exit(returncode: int) -> bool:
        """systemd counts an exit code 0, or death by SIGTERM, SIGINT, SIGHUP or SIGPIPE, as clean."""
        clean = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE)
        return returncode == 0 or -returncode in clean
