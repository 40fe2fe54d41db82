// Where each activity's mirrors stand: the gateway's `mirror` table (SQLite, read-only), one query per page.
import Database from 'better-sqlite3';
import { isoUtc } from './timeline.mjs';

const CTMS_TARGET = 'ctms';

export class Mirrors {
  constructor(path) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
    this.select = this.db.prepare('SELECT source_id, target, state, remote_id, attempts, last_error, updated_at '
      + 'FROM mirror WHERE source_kind = ? AND source_id IN (SELECT value FROM json_each(?))');
  }

  rows(kind, ids) {
    const found = new Map();
    if (!ids.length) return found;
    for (const row of this.select.all(kind, JSON.stringify(ids))) {
      found.set(`${row.source_id}\u0000${row.target}`, row);
    }
    return found;
  }

  // Attach `sync` to every node of a page: per org for clinical activities, the CTMS for medical ones.
  attach(nodes, orgs) {
    const connected = new Set(orgs.map((o) => o.org));
    const clinical = this.rows('clinical', nodes.filter((n) => n.kind === 'CLINICAL').map((n) => n.ctmsId));
    const medical = this.rows('medical', nodes.filter((n) => n.kind === 'MEDICAL').map((n) => n.callKey));
    for (const n of nodes) {
      if (n.kind === 'CLINICAL') {
        n.sync = orgs.map((o) => status(o.org, clinical.get(`${n.ctmsId}\u0000${o.org}`), n.modifiedAt));
      } else if (n.ctmsId && !connected.has(n.callKey.split(':')[0])) {
        n.sync = [{ connection: null, state: 'SYNCED', remoteId: n.ctmsId, attempts: 0, lastError: null,
          updatedAt: n.modifiedAt }];
      } else {
        n.sync = [status(null, medical.get(`${n.callKey}\u0000${CTMS_TARGET}`), n.modifiedAt)];
      }
    }
  }
}

function status(connection, row, since) {
  const conn = connection === null ? null : { name: connection };
  if (!row) {
    return { connection: conn, state: 'PENDING', remoteId: null, attempts: 0, lastError: null,
      updatedAt: since ?? isoUtc(new Date().toISOString()) };
  }
  return { connection: conn, state: row.state, remoteId: row.remote_id, attempts: row.attempts,
    lastError: row.last_error, updatedAt: isoUtc(row.updated_at) };
}
