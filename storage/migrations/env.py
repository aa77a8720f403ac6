"""Alembic environment: uses the connection handed over by storage.db.migrate, or alembic.ini's URL."""

from alembic import context
from sqlalchemy import String, TypeDecorator, engine_from_config, pool
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
config = context.config


def run(connection) -> None:
    dialect = connection.dialect.name

    def include_object(obj, _name, type_, _reflected, _compare_to) -> bool:
        # An index declared for one engine only (storage.models.ONLY_POSTGRESQL) is compared there only.
        if type_ == "index":
            dialects = obj.info.get("dialects")
            return dialects is None or dialect in dialects
        return True

    def compare_type(_context, _inspected, _declared, inspected_type, declared_type):
        # SQLite neither keeps nor enforces a VARCHAR's length (migrations widen them on PostgreSQL only).
        declared = declared_type.impl if isinstance(declared_type, TypeDecorator) else declared_type
        if dialect == "sqlite" and isinstance(inspected_type, String) and isinstance(declared, String):
            return False
        return None  # Alembic's own comparison

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=dialect == "sqlite",
        include_object=include_object,
        compare_type=compare_type,
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
