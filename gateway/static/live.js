// Live updates for the person shown: a small graphql-transport-ws client (connection_init with the bearer token,
// subscribe, ping/pong, complete) on /graphql. When the socket drops it reconnects with backoff and, once it is
// back, the page refetches what it shows (events sent while it was away are not replayed).
import { ACTIVITY_CHANGED } from "/static/queries.js";

const PROTOCOL = "graphql-transport-ws";
const PING_EVERY_MS = 15_000;
const PONG_WITHIN_MS = 10_000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const FATAL = new Set([4400, 4403, 4406]);  // malformed, forbidden, protocol refused: retrying would not help

export class LiveFeed {
  #ws = null;
  #acked = false;
  #personId = null;
  #subscription = null;
  #counter = 0;
  #lost = false;
  #attempt = 0;
  #everAcked = false;
  #stopped = true;
  #retry = null;
  #ping = null;
  #pong = null;

  // `authorization()`: "Bearer <token>" or null; `onEvent(event)`; `onReconnected()`: refetch what is shown;
  // `onStatus(state, text)`; `onErrors(errors)`: what the server refused in a subscription.
  constructor({ path, authorization, onEvent, onReconnected, onStatus, onErrors }) {
    Object.assign(this, { path, authorization, onEvent, onReconnected, onStatus, onErrors });
    addEventListener("online", () => { if (!this.#stopped && !this.#ws) this.#connect(); });
  }

  // Follow this person's activities from now on (null: nobody).
  watch(personId) {
    this.#personId = personId;
    this.#stopped = false;
    if (!this.#ws) {
      clearTimeout(this.#retry);
      this.#connect();
    } else if (this.#ws.readyState === WebSocket.OPEN && this.#acked) {
      this.#subscribe();
    }
  }

  // Signed out: close the socket and stay closed.
  stop() {
    this.#stopped = true;
    this.#personId = null;
    this.#everAcked = false;
    clearTimeout(this.#retry);
    this.#closeSocket(1000);
    this.onStatus("off", "");
  }

  #url() {
    return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${this.path}`;
  }

  #send(message) {
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  #connect() {
    this.#acked = false;
    this.onStatus(this.#everAcked ? "reconnecting" : "connecting",
      this.#everAcked ? "Live updates: reconnecting…" : "Live updates: connecting…");
    const ws = new WebSocket(this.#url(), PROTOCOL);
    this.#ws = ws;
    ws.addEventListener("open", () => {
      const authorization = this.authorization();
      this.#send({ type: "connection_init", payload: authorization ? { authorization } : {} });
    });
    ws.addEventListener("message", (event) => { if (ws === this.#ws) this.#received(event.data); });
    ws.addEventListener("close", (event) => { if (ws === this.#ws) this.#dropped(event.code); });
  }

  #received(text) {
    let message;
    try { message = JSON.parse(text); } catch (err) { return; }
    this.#alive();
    switch (message.type) {
      case "connection_ack": return this.#ready();
      case "ping": return this.#send({ type: "pong" });
      case "next":
        if (message.id !== this.#subscription) return undefined;
        if (message.payload && message.payload.errors) this.#errors(message.payload.errors);
        if (message.payload && message.payload.data) this.onEvent(message.payload.data.activityChanged);
        return undefined;
      case "error":
        if (message.id === this.#subscription) {
          this.#subscription = null;
          this.onErrors(Array.isArray(message.payload) ? message.payload : []);
        }
        return undefined;
      case "complete":
        if (message.id !== this.#subscription) return undefined;
        this.#subscription = null;
        if (this.#lost) {  // the gateway ended a stream that fell behind: read again, listen again
          this.#lost = false;
          this.#subscribe();
          this.onReconnected();
        }
        return undefined;
      default: return undefined;
    }
  }

  // EVENTS_LOST: this subscription fell behind and the gateway ends it; not the user's concern (see "complete").
  #errors(errors) {
    const lost = errors.filter((e) => e && e.extensions && e.extensions.code === "EVENTS_LOST");
    if (lost.length) this.#lost = true;
    const others = errors.filter((e) => !lost.includes(e));
    if (others.length) this.onErrors(others);
  }

  #ready() {
    const reconnected = this.#everAcked;
    this.#acked = true;
    this.#everAcked = true;
    this.#attempt = 0;
    this.onStatus("live", "Live updates: on");
    this.#subscription = null;
    this.#subscribe();
    if (reconnected) this.onReconnected();
  }

  #subscribe() {
    if (this.#subscription) this.#send({ id: this.#subscription, type: "complete" });
    this.#subscription = null;
    if (!this.#personId) return;
    this.#subscription = `s${++this.#counter}`;
    this.#send({ id: this.#subscription, type: "subscribe",
      payload: { query: ACTIVITY_CHANGED, variables: { personId: this.#personId } } });
  }

  // Any message shows the socket is alive: the next ping is due in PING_EVERY_MS; a ping unanswered in
  // PONG_WITHIN_MS means the connection is gone without a close (a sleeping laptop, a dropped network).
  #alive() {
    clearTimeout(this.#ping);
    clearTimeout(this.#pong);
    this.#ping = setTimeout(() => {
      this.#send({ type: "ping" });
      this.#pong = setTimeout(() => this.#closeSocket(4408), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  #closeSocket(code) {
    clearTimeout(this.#ping);
    clearTimeout(this.#pong);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      try { ws.close(code === 4408 ? 4408 : 1000); } catch (err) { /* already closing */ }
    }
    if (code === 4408 && !this.#stopped) this.#dropped(code);
  }

  #dropped(code) {
    clearTimeout(this.#ping);
    clearTimeout(this.#pong);
    this.#ws = null;
    this.#acked = false;
    this.#subscription = null;
    if (this.#stopped) return;
    if (FATAL.has(code)) {
      this.onStatus("refused", "Live updates: refused by the gateway");
      return;
    }
    const base = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)];
    this.#attempt += 1;
    this.onStatus("reconnecting", "Live updates: reconnecting…");
    this.#retry = setTimeout(() => this.#connect(), base * (0.75 + Math.random() / 2));
  }
}
