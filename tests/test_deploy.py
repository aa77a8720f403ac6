"""The deployment kit: the lock file, the container's files and the optional PostgreSQL driver.

(The systemd units are run as systemd would run them in tests/test_systemd.py.)
"""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pinned() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: name -> (version, hashes)."""
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"not a hashed pin: {line[:80]}"
        pins[canonicalize_name(match.group(1))] = (
            match.group(2),
            re.findall(r"[0-9a-f]{64}", match.group(3)),
        )
    return pins


def test_the_lock_pins_the_runtime_and_the_postgresql_extra_with_hashes() -> None:
    """What `make install` and the Dockerfile install: every requirement of pyproject.toml (the runtime
    and its postgresql extra) pinned to a version it accepts, every file by its hash; regenerate it
    with `make lock` when pyproject.toml changes."""
    pins = pinned()
    project = PYPROJECT["project"]
    wanted = [
        Requirement(r) for r in (*project["dependencies"], *project["optional-dependencies"]["postgresql"])
    ]
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for requirement in (*wanted, *build):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run make lock"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement}: locked {version}"
        assert hashes
    for extra in ("binary",):  # psycopg[binary]: the compiled driver, no libpq needed on the server
        assert canonicalize_name(f"psycopg-{extra}") in pins
    # Development tools stay out of a server's install.
    for tool in ("pytest", "ruff", "playwright", "pip-tools", "hypothesis"):
        assert canonicalize_name(tool) not in pins, tool


def test_postgresql_driver_is_an_extra() -> None:
    """A SQLite-only install does without psycopg; the dev setup (and so CI) gets it through the extra."""
    project = PYPROJECT["project"]
    assert not [r for r in project["dependencies"] if canonicalize_name(Requirement(r).name) == "psycopg"]
    assert [Requirement(r).name for r in project["optional-dependencies"]["postgresql"]] == ["psycopg"]
    assert "tiendo[postgresql]" in project["optional-dependencies"]["dev"]


SQLITE_ONLY = """
import sys
# As on a server installed without the postgresql extra: importing psycopg fails.
sys.modules["psycopg"] = None
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_driver(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", SQLITE_ONLY, *args],
        cwd=tmp_path,
        env={**env, "ZALO_BOT_TOKEN": "1234567890:not-a-real-token-xxxxxxxxxxxxxxxxxxxx"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_driver_sqlite_works_and_postgresql_says_what_to_install(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/tiendo.db"
    args: tuple[str, ...]
    for args in (("migrate",), ("demo",), ("progress", "--today", "2023-11-01")):
        done = run_without_driver(tmp_path, database, *args)
        assert done.returncode == 0, done.stderr
    assert "Đảng bộ huyện Thanh Liêm" in done.stdout
    for args in (("migrate",), ("units", "list"), ("serve",)):
        done = run_without_driver(tmp_path, "postgresql://tiendo:pw-secret@127.0.0.1:5432/tiendo", *args)
        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]  # serve logs its start before
        assert last.startswith("Lỗi: DATABASE_URL là postgresql:// nhưng máy này chưa cài"), done.stderr
        assert "psycopg" in done.stderr and "make install" in done.stderr
        assert "Traceback" not in done.stderr and "pw-secret" not in done.stderr


# --- tiendo migrate, tiendo backup FOLDER --keep-days N -----------------------------------------


@pytest.fixture
def tiendo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """`tiendo …` in-process against the given database."""
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no stray .env

    def run(database_url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", database_url)
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_migrate_says_what_it_did(tiendo, empty_database_url: str) -> None:
    from alembic import command

    from storage.db import Database, migration_config

    head = sorted(p.stem for p in (ROOT / "storage" / "migrations" / "versions").glob("0*.py"))[-1]
    database = Database(empty_database_url)
    config = migration_config()
    with database.engine.begin() as connection:  # a database left by an older version
        config.attributes["connection"] = connection
        command.upgrade(config, "0003_kept_replies")
    database.dispose()
    code, out, err = tiendo(empty_database_url, "migrate")
    assert code == 0, err
    assert f"từ phiên bản 0003_kept_replies lên {head} (0004_channels, 0005_retention," in out
    code, out, _ = tiendo(empty_database_url, "migrate")
    assert code == 0 and f"đã ở phiên bản mới nhất ({head}): không có gì phải nâng cấp" in out
    if not empty_database_url.startswith("sqlite"):
        assert "@" not in out  # host, port and name: never the user and password


def test_migrate_creates_an_empty_database(tiendo, tmp_path: Path) -> None:
    code, out, err = tiendo(f"sqlite:///{tmp_path}/new/tiendo.db", "migrate")
    assert code == 0, err
    assert out.startswith(f"Đã tạo các bảng của cơ sở dữ liệu {tmp_path}/new/tiendo.db, phiên bản 0")


def test_backup_into_a_folder_keeps_the_last_days(tiendo, database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    suffix = "db" if database_url.startswith("sqlite") else "dump"
    old = folder / f"tiendo-2020-01-31-021500.{suffix}"
    recent = folder / f"tiendo-{_days_ago(3):%Y-%m-%d}-021500.{suffix}"
    other = folder / "tiendo-notes.txt"  # not named like a backup: never touched
    for path in (old, recent, other):
        path.write_text("x")
    code, out, err = tiendo(database_url, "backup", str(folder), "--keep-days", "30")
    assert code == 0, err
    written = [p for p in folder.iterdir() if p not in (recent, other)]
    assert len(written) == 1 and re.fullmatch(rf"tiendo-\d{{4}}-\d\d-\d\d-\d{{6}}\.{suffix}", written[0].name)
    assert written[0].stat().st_mode & 0o777 == 0o600 and written[0].stat().st_size > 1000
    assert f"Đã sao lưu cơ sở dữ liệu vào {written[0]}." in out
    assert f"Đã xóa 1 bản sao lưu cũ hơn 30 ngày: {old.name}." in out
    assert not old.exists() and recent.exists() and other.exists()
    # The copy restores.
    code, _, err = tiendo(database_url, "restore", str(written[0]), "--yes")
    assert code == 0, err


def test_backup_folder_created_private_and_mistakes_refused(tiendo, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/tiendo.db"
    assert tiendo(database, "migrate")[0] == 0
    code, _, err = tiendo(database, "backup", str(tmp_path / "new-folder"), "--keep-days", "7")
    assert code == 0, err
    assert (tmp_path / "new-folder").stat().st_mode & 0o777 == 0o700
    assert len(list((tmp_path / "new-folder").iterdir())) == 1
    code, _, err = tiendo(database, "backup", str(tmp_path / "tiendo.db"), "--keep-days", "7")
    assert code == 1 and "là một tệp" in err
    code, _, err = tiendo(database, "backup", str(tmp_path / "new-folder"), "--keep-days", "0")
    assert code == 1 and "--keep-days cần từ 1 ngày" in err


def test_a_failed_backup_leaves_no_file_that_looks_like_one(tiendo, tmp_path: Path) -> None:
    if not any(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")) and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    folder = tmp_path / "backups"
    code, _, err = tiendo("postgresql://nobody@127.0.0.1:1/none", "backup", str(folder), "--keep-days", "7")
    assert code == 1 and "pg_dump không chạy được" in err
    assert list(folder.iterdir()) == []  # neither a backup's name nor a partial copy


def _days_ago(days: int):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(days=days)


# --- the container: Dockerfile, .dockerignore, compose.yaml (no Docker engine here: read, not run) ---


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            steps.append((instruction.upper(), arguments.strip()))
    return steps


def test_the_image_installs_what_make_install_installs() -> None:
    """The Dockerfile and `make install` install alike: the lock file with its hashes and without
    resolving anything else, then the project with the pinned build tools; every package of
    pyproject.toml is copied in; the image runs as a user without privileges."""
    steps = dockerfile()
    runs = " ".join(arguments for instruction, arguments in steps if instruction == "RUN")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for flags in ("--require-hashes --no-deps -r", "--no-deps --no-build-isolation"):
        assert flags in runs and flags in makefile, flags
    assert "requirements.lock" in runs
    copied = {
        arguments.split()[0]
        for instruction, arguments in steps
        if instruction == "COPY" and not arguments.startswith("--from")
    }
    copied |= {
        word
        for instruction, arguments in steps
        if instruction == "COPY" and not arguments.startswith("--from")
        for word in arguments.split()[:-1]
    }
    packages = {name.split(".")[0] for name in PYPROJECT["tool"]["setuptools"]["packages"]}
    assert packages | {"requirements.lock", "pyproject.toml", PYPROJECT["project"]["readme"]} <= copied
    # The base images: the same Python as the lock file was made for, in both stages.
    bases = [arguments.split()[0] for instruction, arguments in steps if instruction == "FROM"]
    assert len(bases) == 2 and len(set(bases)) == 1
    header = LOCK.read_text(encoding="utf-8")
    version = re.search(r"with Python (3\.\d+)", header)
    assert version and bases[0].startswith(f"python:{version.group(1)}-")
    users = [arguments for instruction, arguments in steps if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    (command,) = [arguments for instruction, arguments in steps if instruction == "CMD"]
    assert json_list(command)[:2] == ["tiendo", "serve"]


def json_list(text: str) -> list[str]:
    import json

    value = json.loads(text)
    assert isinstance(value, list)
    return value


def test_the_build_context_holds_what_the_image_copies_and_no_secret() -> None:
    """.dockerignore: everything the Dockerfile copies goes in; .env, .venv, data and backups never."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # nothing unless let in
    let_in = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    for instruction, arguments in dockerfile():
        if instruction == "COPY" and not arguments.startswith("--from"):
            for source in arguments.split()[:-1]:
                assert source in let_in, source
    assert not let_in & {".env", ".venv", "data", "backups", "deploy"}


def test_compose_file_follows_the_compose_specification() -> None:
    """deploy/compose.yaml against the Compose specification's JSON schema (check-jsonschema ships it:
    no network), then what the schema cannot see: paths, volumes, the settings it relies on."""
    compose = ROOT / "deploy" / "compose.yaml"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(compose),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    from ruamel.yaml import YAML

    spec = YAML(typ="safe").load(compose.read_text(encoding="utf-8"))
    bot, db = spec["services"]["bot"], spec["services"]["db"]
    context = (compose.parent / bot["build"]["context"]).resolve()
    assert context == ROOT and (context / bot["build"]["dockerfile"]).is_file()
    assert bot["env_file"] == ".env"  # deploy/.env: also what compose reads for ${POSTGRES_PASSWORD}
    assert (ROOT / ".gitignore").read_text().splitlines().count(".env") == 1  # deploy/.env too
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in bot["ports"])  # the host's proxy in front
    declared = set(spec["volumes"])
    for service in (bot, db):
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared, volume
    # The database's major version is the client's of the image (pg_dump, pg_restore).
    assert db["image"].startswith("postgres:15") and "bookworm" in dockerfile()[0][1]
    assert "${POSTGRES_PASSWORD" in bot["environment"]["DATABASE_URL"]
    assert bot["stop_grace_period"] == "30s"


def test_compose_check_can_fail(tmp_path: Path) -> None:
    """The schema check above rejects a file with a mistake in it (it is not a check that passes anyway)."""
    broken = tmp_path / "compose.yaml"
    text = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    broken.write_text(
        text.replace("restart: unless-stopped", "restart: unless-stopped\n    restrat: always", 1)
    )
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "restrat" in done.stdout


NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_accepts_the_proxy_config(tmp_path: Path) -> None:
    """`nginx -t` on deploy/nginx.conf inside a minimal main configuration, with a throw-away certificate."""
    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=tiendo.example.vn",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    site = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/letsencrypt/live/tiendo.example.vn/fullchain.pem", str(certificate))
    site = site.replace("/etc/letsencrypt/live/tiendo.example.vn/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n include {tmp_path}/site.conf;\n}}\n"
    )
    done = subprocess.run(
        [str(NGINX), "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "[warn]" not in done.stderr, done.stderr


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """Docker's own best practices (hadolint, offline): what it flags is fixed or its exception explained
    in a comment of the Dockerfile."""
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint is not installed (the dev extra has it: make test)")
    done = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "deploy" / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
