"""Alembic environment for windowqa, run programmatically by ``models.db.init_db``.

``init_db`` passes an open connection in ``config.attributes["connection"]``; there is no
alembic.ini. Tables of other packages (``models.attendance_db``) are imported when present so
that autogenerate sees them.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import create_engine

from models.db import Base
from models.transcript_search import alembic_include_name

for _module in ("models.attendance_db", "models.voice_db", "models.review_db", "models.feedback_db", "models.management_db", "models.alert_db"):
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise

target_metadata = Base.metadata
config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER goes through batch mode
        compare_type=True,
        include_name=alembic_include_name,  # the search index is created by its migration, not the models
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line: `-x url=...` or sqlalchemy.url
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as conn:
        _run(conn)
