"""The org's SQLite database: one table per sObject, seeded from the world, with ids, autonumbers and modstamps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Executable,
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

from emulators.seed import sf_id

from .objects import OBJECTS, SObject
from .timestamps import Clock, format_ts

__all__ = ["Store", "MEMORY_URL"]

MEMORY_URL = "sqlite://"


def _column(obj: SObject, name: str) -> Column:
    f = obj.fields[name]
    if f.type == "boolean":
        return Column(name, Boolean, nullable=False, default=False)
    if f.is_text:
        return Column(name, String(collation="NOCASE"))
    return Column(name, String, primary_key=name == "Id")


def _table(obj: SObject, metadata: MetaData) -> Table:
    table = Table(obj.name, metadata, *(_column(obj, n) for n in obj.fields))
    for f in obj.fields.values():
        if f.type == "reference" or f.external_id or f.name == "SystemModstamp":
            Index(f"ix_{obj.name}_{f.name}", table.c[f.name])
    return table


class Store:
    """Rows of every sObject of one org; writes stamp SystemModstamp strictly increasing across the org."""

    def __init__(self, db_url: str, instance: str) -> None:
        self.instance = instance
        engine = create_engine(db_url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        if db_url != MEMORY_URL and ":memory:" not in db_url:
            event.listen(engine, "connect", _file_pragmas)
        self.metadata = MetaData()
        self.tables: dict[str, Table] = {name: _table(obj, self.metadata) for name, obj in OBJECTS.items()}
        # SOQL compiled before, kept by soql/results.py (the tables never change shape).
        self.plans: dict[Any, Any] = {}
        self.metadata.create_all(engine)
        self.engine = engine
        self.conn: Connection = engine.connect()
        self._depth = 0
        self._rollback = False
        self.clock = Clock()
        self.counters: dict[str, int] = {}
        self.autonumbers: dict[str, int] = {}
        self.init_counters()

    # reading

    def run(self, stmt: Executable) -> list[Any]:
        """Execute and fetch all rows, closing the implicit read transaction outside `transaction()`."""
        rows = self.conn.execute(stmt).all()
        if self._depth == 0:
            self.conn.commit()
        return rows

    def is_empty(self) -> bool:
        return not any(self.run(select(t.c.Id).limit(1)) for t in self.tables.values())

    def get(self, obj: str, record_id: str) -> dict | None:
        """A record by id, deleted or not."""
        t = self.tables[obj]
        rows = self.run(select(t).where(t.c.Id == record_id))
        return dict(rows[0]._mapping) if rows else None

    def live_ids(self, obj: str, field: str, value: Any, limit: int | None = None) -> list[str]:
        """Ids of records not deleted whose `field` equals `value` (case-insensitively for text)."""
        t = self.tables[obj]
        stmt = select(t.c.Id).where(t.c[field] == value, t.c.IsDeleted.is_(False)).order_by(t.c.Id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [r[0] for r in self.run(stmt)]

    def updated(self, obj: str, start: str, end: str) -> list[str]:
        t = self.tables[obj]
        stmt = (select(t.c.Id).where(t.c.SystemModstamp >= start, t.c.SystemModstamp < end, t.c.IsDeleted.is_(False))
                .order_by(t.c.SystemModstamp))
        return [r[0] for r in self.run(stmt)]

    def deleted(self, obj: str, start: str, end: str) -> list[tuple[str, str]]:
        t = self.tables[obj]
        stmt = (select(t.c.Id, t.c.SystemModstamp)
                .where(t.c.SystemModstamp >= start, t.c.SystemModstamp < end, t.c.IsDeleted.is_(True))
                .order_by(t.c.SystemModstamp))
        return [(r[0], r[1]) for r in self.run(stmt)]

    def earliest_deleted(self, obj: str) -> str | None:
        t = self.tables[obj]
        rows = self.run(select(func.min(t.c.SystemModstamp)).where(t.c.IsDeleted.is_(True)))
        return rows[0][0] if rows else None

    # writing

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One database transaction; nested uses join the outer one. `rollback_on_exit()` discards it."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        if self.conn.in_transaction():
            self.conn.commit()
        self._depth, self._rollback = 1, False
        trans = self.conn.begin()
        try:
            yield self
        except BaseException:
            trans.rollback()
            raise
        else:
            if self._rollback:
                trans.rollback()
            else:
                trans.commit()
        finally:
            self._depth = 0

    def rollback_on_exit(self) -> None:
        self._rollback = True

    def load(self, records: dict[str, list[dict]]) -> None:
        """Insert seeded records as they are (their ids, names and stamps kept)."""
        with self.transaction():
            for name, rows in records.items():
                obj = OBJECTS.get(name)
                if obj is None or not rows:
                    continue
                clean = [{f: _stored(obj, f, rec.get(f)) for f in obj.fields} for rec in rows]
                self.conn.execute(self.tables[name].insert(), clean)
        self.init_counters()

    def insert(self, obj: SObject, values: dict, user: str) -> str:
        record_id = self.new_id(obj)
        stamp = format_ts(self.clock.tick())
        row = {f: None for f in obj.fields}
        row.update(values)
        row.update(Id=record_id, IsDeleted=False, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp,
                   CreatedById=user, LastModifiedById=user)
        row["OwnerId"] = row.get("OwnerId") or user
        if not row.get("Name") and obj.autonumber:
            row["Name"] = self.next_name(obj)
        for f in obj.fields.values():
            if f.type == "boolean" and row[f.name] is None:
                row[f.name] = False
        with self.transaction():
            self.conn.execute(self.tables[obj.name].insert(), row)
        return record_id

    def update(self, obj: SObject, record_id: str, values: dict, user: str) -> None:
        stamp = format_ts(self.clock.tick())
        row = dict(values)
        row.update(LastModifiedDate=stamp, SystemModstamp=stamp, LastModifiedById=user)
        t = self.tables[obj.name]
        with self.transaction():
            self.conn.execute(t.update().where(t.c.Id == record_id).values(row))

    def delete(self, obj: SObject, record_id: str, user: str) -> None:
        self.update(obj, record_id, {"IsDeleted": True}, user)

    def new_id(self, obj: SObject) -> str:
        self.counters[obj.name] = n = self.counters.get(obj.name, 0) + 1
        return sf_id(obj.prefix, self.instance, n)

    def next_name(self, obj: SObject) -> str:
        assert obj.autonumber is not None
        self.autonumbers[obj.name] = n = self.autonumbers.get(obj.name, 0) + 1
        return obj.autonumber.format(n)

    def init_counters(self) -> None:
        """Start id, autonumber and clock counters after the largest values already stored."""
        for name, obj in OBJECTS.items():
            t = self.tables[name]
            mine = f"{obj.prefix}0{self.instance}%"
            top = self.run(select(func.max(t.c.Id)).where(t.c.Id.like(mine)))[0][0]
            self.counters[name] = int(top[5:14]) if top and top[5:14].isdigit() else 0
            if obj.autonumber:
                head = obj.autonumber.split("{")[0]
                names = self.run(select(func.max(t.c.Name)).where(t.c.Name.like(f"{head}%")))[0][0]
                digits = names[len(head):] if names else ""
                self.autonumbers[name] = int(digits) if digits.isdigit() else 0
            self.clock.observe(self.run(select(func.max(t.c.SystemModstamp)))[0][0])


def _stored(obj: SObject, name: str, value: Any) -> Any:
    if obj.fields[name].type == "boolean":
        return bool(value)
    return value


def _file_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
