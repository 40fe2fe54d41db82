// The CTMS (Vault REST) and CRM (Salesforce REST) clients: one undici Pool per backend, one log-in in flight,
// one re-login when the session expires; the same requests as the gateway's datasources send (an org's queries of
// one turn of the event loop in one Composite call).
import { Pool } from 'undici';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const JSON_BODY = { 'content-type': 'application/json', accept: 'application/json' };
// The Composite resource takes at most five query subrequests per call.
const MAX_QUERIES = 5;

export const quote = (value) => `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

class Backend {
  constructor(name, url) {
    this.name = name;
    const origin = new URL(url);
    this.origin = origin.origin;
    this.pool = new Pool(this.origin, { connections: 32, keepAliveTimeout: 30_000 });
    this.session = null;
  }

  login() {
    // Every caller waiting for a session joins the one log-in in flight.
    this.session ??= this.logIn().catch((err) => { this.session = null; throw err; });
    return this.session;
  }

  async call(method, path, body, bodyHeaders = FORM) {
    for (let attempt = 0; ; attempt++) {
      const token = await this.login();
      const headers = body ? { ...bodyHeaders, authorization: this.authorization(token) }
        : { accept: 'application/json', authorization: this.authorization(token) };
      const res = await this.pool.request({ method, path, headers, body });
      const json = await res.body.json();
      if (this.expired(res.statusCode, json) && attempt === 0) {
        this.session = null;
        continue;
      }
      if (res.statusCode !== 200) throw new Error(`${this.name} answered ${res.statusCode}`);
      return json;
    }
  }

  close() {
    return this.pool.close();
  }
}

export class Vault extends Backend {
  constructor({ url, version, username, password }) {
    super('ctms', url);
    this.api = `/api/${version}`;
    this.form = new URLSearchParams({ username, password }).toString();
  }

  async logIn() {
    const res = await this.pool.request({ method: 'POST', path: `${this.api}/auth`, headers: FORM, body: this.form });
    const json = await res.body.json();
    if (json.responseStatus !== 'SUCCESS' || !json.sessionId) throw new Error('ctms login failed');
    return json.sessionId;
  }

  authorization(token) {
    return token;
  }

  expired(status, json) {
    return status === 401 || (json?.responseStatus === 'FAILURE'
      && (json.errors ?? []).some((e) => e.type === 'INVALID_SESSION_ID'));
  }

  async query(vql) {
    const json = await this.call('POST', `${this.api}/query`, new URLSearchParams({ q: vql }).toString());
    if (json.responseStatus !== 'SUCCESS') throw new Error(`ctms refused the query (${json.errors?.[0]?.type})`);
    return json.data ?? [];
  }
}

export class Org extends Backend {
  constructor({ name, url, apiVersion, clientId, clientSecret, ctmsField, crmField }) {
    super(`crm:${name}`, url);
    this.org = name;
    this.api = `/services/data/v${apiVersion.replace(/^v/, '')}`;
    this.ctmsField = ctmsField;
    this.crmField = crmField;
    this.form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId,
      client_secret: clientSecret }).toString();
  }

  async logIn() {
    const res = await this.pool.request({ method: 'POST', path: '/services/oauth2/token', headers: FORM,
      body: this.form });
    const json = await res.body.json();
    if (res.statusCode !== 200 || !json.access_token) throw new Error(`${this.name} login failed`);
    return json.access_token;
  }

  authorization(token) {
    return `Bearer ${token}`;
  }

  expired(status) {
    return status === 401;
  }

  query(soql) {
    return new Promise((resolve, reject) => {
      this.pending ??= [];
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ soql, resolve, reject });
    });
  }

  flush() {
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i += MAX_QUERIES) this.send(pending.slice(i, i + MAX_QUERIES));
  }

  async send(chunk) {
    try {
      if (chunk.length === 1) {
        const json = await this.call('GET', `${this.api}/query?${new URLSearchParams({ q: chunk[0].soql })}`);
        chunk[0].resolve(json.records ?? []);
        return;
      }
      const json = await this.call('POST', `${this.api}/composite`, JSON.stringify({ allOrNone: false,
        compositeRequest: chunk.map((c, i) => ({ method: 'GET', referenceId: `q${i}`,
          url: `${this.api}/query?${new URLSearchParams({ q: c.soql })}` })) }), JSON_BODY);
      json.compositeResponse.forEach((r, i) => (r.httpStatusCode === 200 ? chunk[i].resolve(r.body.records ?? [])
        : chunk[i].reject(new Error(`${this.name} answered ${r.httpStatusCode}`))));
    } catch (err) {
      for (const c of chunk) c.reject(err);
    }
  }
}
