"""Alembic environment: uses the connection handed over by storage.db.migrate, or alembic.ini's URL."""

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
config = context.config


def run(connection) -> None:  # type: ignore[no-untyped-def]
    dialect = connection.dialect.name

    def include_object(obj, _name, type_, _reflected, _compare_to) -> bool:  # type: ignore[no-untyped-def]
        # An index declared for one engine only (storage.models.ONLY_POSTGRESQL) is compared there only.
        if type_ == "index":
            dialects = obj.info.get("dialects")
            return dialects is None or dialect in dialects
        return True

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=dialect == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.connect() as conn:
        run(conn)
