"""The SQLite store of the CTMS stand-in: one table per object, the seed loader, id counters and the write clock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.pool import StaticPool

from emulators.seed import World, vault_id

from .objects import BOOLEAN, DATE, DATETIME, ID_PREFIX, OBJECT_TYPE, OBJECT_TYPES, OBJECTS, PICKLIST, Field
from .timestamps import Clock, format_ts

__all__ = ["Store", "to_api_value"]

TYPE_ID_OF = {t.api_name: t.id for t in OBJECT_TYPES}


def to_api_value(f: Field, value: Any) -> Any:
    """A stored value as Vault returns it: picklists as arrays of names, everything else as stored."""
    if value is None:
        return None
    if f.type == PICKLIST:
        return [value]
    return value


def _column(f: Field) -> Column:
    if f.type == BOOLEAN:
        return Column(f.name, Boolean, nullable=True)
    length = {DATE: 10, DATETIME: 24, OBJECT_TYPE: 20}.get(f.type, f.max_length or 40)
    return Column(f.name, String(length), primary_key=f.name == "id", nullable=f.name != "id")


def _vlower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class Store:
    """Tables for every object in one SQLite database, in memory (`sqlite://`) or in a file."""

    def __init__(self, db_url: str = "sqlite://") -> None:
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if db_url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        self.engine: Engine = create_engine(db_url, **kwargs)
        event.listen(self.engine, "connect", self._on_connect)
        self.metadata = MetaData()
        self.tables: dict[str, Table] = {}
        for obj in OBJECTS.values():
            table = Table(obj.name, self.metadata, *[_column(f) for f in obj.fields.values()])
            for f in obj.fields.values():
                if f.indexed or (f.unique and f.name != "id"):
                    Index(f"ix_{obj.name}_{f.name}", table.c[f.name])
            self.tables[obj.name] = table
        # Vault keeps the ids of deleted object records for the deletions API.
        self.deletions = Table("deleted_record__sys", self.metadata, Column("object", String(100), nullable=False),
                               Column("id", String(40), nullable=False), Column("date_deleted", String(30),
                                                                                 nullable=False, index=True))
        self.metadata.create_all(self.engine)
        # VQL compiled before, kept by vql/compiler.py (the tables never change shape).
        self.compiled: dict[str, Any] = {}
        self._counters: dict[str, int] = {}
        self._names: dict[str, int] = {}
        self.clock = Clock()
        self.init_counters()

    @staticmethod
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.create_function("vlower", 1, _vlower, deterministic=True)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # -- loading -------------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.tables["user__sys"])).scalar_one() == 0

    def load(self, world: World) -> None:
        """Insert the world's `ctms` records, converted from Vault's wire form to the stored form."""
        with self.engine.begin() as conn:
            for name, records in world.ctms.items():
                if name not in OBJECTS or not records:
                    continue
                fields = OBJECTS[name].fields
                rows = [{k: self._from_seed(fields[k], v) for k, v in rec.items() if k in fields} for rec in records]
                for row in rows:
                    for k in fields:
                        row.setdefault(k, None)
                conn.execute(self.tables[name].insert(), rows)
        self.init_counters()

    @staticmethod
    def _from_seed(f: Field, value: Any) -> Any:
        if f.type == PICKLIST and isinstance(value, list):
            return value[0] if value else None
        if f.type == OBJECT_TYPE and value is not None:
            return TYPE_ID_OF.get(value, value)
        return value

    def init_counters(self) -> None:
        """Start id, name and clock counters after the largest values already stored."""
        with self.engine.connect() as conn:
            for name, table in self.tables.items():
                ids = [r[0] for r in conn.execute(select(table.c.id))]
                prefix = ID_PREFIX.get(name, "")
                numbers = [int(i[len(prefix):]) for i in ids if i.startswith(prefix) and i[len(prefix):].isdigit()]
                self._counters[name] = max(numbers, default=1000000 if not prefix else 0)
                fmt = OBJECTS[name].name_format
                if fmt:
                    head = fmt.split("{")[0]
                    names = conn.execute(select(table.c.name__v)).scalars()
                    self._names[name] = max((int(n[len(head):]) for n in names
                                             if n and n.startswith(head) and n[len(head):].isdigit()), default=0)
                self.clock.observe(conn.execute(select(func.max(table.c.modified_date__v))).scalar())
            self.clock.observe(conn.execute(select(func.max(self.deletions.c.date_deleted))).scalar())

    # -- counters ------------------------------------------------------------------------------------------

    def next_id(self, obj: str) -> str:
        self._counters[obj] = self._counters.get(obj, 0) + 1
        prefix = ID_PREFIX.get(obj)
        return vault_id(prefix, self._counters[obj]) if prefix else str(self._counters[obj])

    def next_name(self, obj: str) -> str:
        fmt = OBJECTS[obj].name_format or "{}"
        self._names[obj] = self._names.get(obj, 0) + 1
        return fmt.format(self._names[obj])

    def now(self) -> str:
        """The stamp of a write: wall time in milliseconds, strictly increasing across calls."""
        return format_ts(self.clock.tick())

    # -- record access -------------------------------------------------------------------------------------

    def user_named(self, username: str) -> dict | None:
        """The user whose user name matches, case-insensitively."""
        users = self.tables["user__sys"]
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(func.vlower(users.c.username__sys) == username.lower())
                               ).mappings().first()
        return dict(row) if row is not None else None

    def get(self, conn: Connection, obj: str, record_id: str) -> dict | None:
        table = self.tables[obj]
        row = conn.execute(select(table).where(table.c.id == record_id)).mappings().first()
        return dict(row) if row is not None else None

    def exists(self, conn: Connection, obj: str, record_id: str) -> bool:
        table = self.tables[obj]
        return conn.execute(select(table.c.id).where(table.c.id == record_id)).first() is not None

    def find_id(self, conn: Connection, obj: str, field: str, value: Any) -> str | None:
        table = self.tables[obj]
        return conn.execute(select(table.c.id).where(table.c[field] == value).limit(1)).scalar()

    def insert(self, conn: Connection, obj: str, values: dict) -> None:
        row = dict.fromkeys(OBJECTS[obj].fields)
        row.update(values)
        conn.execute(self.tables[obj].insert(), row)

    def update(self, conn: Connection, obj: str, record_id: str, values: dict) -> None:
        table = self.tables[obj]
        conn.execute(table.update().where(table.c.id == record_id).values(**values))

    def delete(self, conn: Connection, obj: str, record_id: str) -> None:
        table = self.tables[obj]
        conn.execute(table.delete().where(table.c.id == record_id))
        conn.execute(self.deletions.insert().values(object=obj, id=record_id, date_deleted=self.now()))

    def deleted(self, conn: Connection, obj: str, start: str | None, end: str | None) -> list[dict]:
        d = self.deletions
        q = select(d.c.id, d.c.date_deleted).where(d.c.object == obj).order_by(d.c.date_deleted)
        if start:
            q = q.where(d.c.date_deleted >= start)
        if end:
            q = q.where(d.c.date_deleted <= end)
        return [{"id": r.id, "date_deleted": r.date_deleted} for r in conn.execute(q)]

    def referrers(self, conn: Connection, obj: str, record_id: str) -> Iterable[str]:
        """Names of `object.field` that still point at a record (a delete must not orphan them)."""
        for other in OBJECTS.values():
            for f in other.fields.values():
                if f.object == obj and not f.system:
                    col = self.tables[other.name].c[f.name]
                    if conn.execute(select(col).where(col == record_id).limit(1)).first() is not None:
                        yield f"{other.name}.{f.name}"

    def to_api(self, obj: str, row: dict) -> dict:
        fields = OBJECTS[obj].fields
        return {k: to_api_value(fields[k], v) for k, v in row.items()}
