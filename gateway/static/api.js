// Talking to /graphql: one request (`gql`), and writes that go through once (`Writer`).

const RETRIES = 2;
const RETRY_DELAY_MS = 400;

export class Api {
  constructor(auth, path) {
    this.auth = auth;
    this.path = path;
  }

  // The GraphQL answer; null when the gateway refused the caller (401: the page is then signed out);
  // `{ errors, retryable: true }` when the request may not have reached the gateway or it did not answer in GraphQL.
  async gql(query, variables) {
    let response;
    try {
      response = await this.auth.fetch(this.path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
    } catch (err) {
      return { errors: [{ message: "The gateway could not be reached: " + err.message }], retryable: true };
    }
    if (response.status === 401) return null;
    try {
      return await response.json();
    } catch (err) {
      return { errors: [{ message: `The gateway answered HTTP ${response.status} without a GraphQL response` }],
        retryable: response.status >= 500 };
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One form's writes. A write in flight refuses a second one (a double click sends once); a write that did not
// reach the gateway is retried with the same variables, idempotency key included, so it is written once; the same
// values sent again after a failure reuse the key too, and new values get a new key.
export class Writer {
  #busy = false;
  #last = null;  // { values: JSON of the variables without the key, key }

  constructor(api) { this.api = api; }

  get busy() { return this.#busy; }

  // The key for these values: the previous one while the values are unchanged and it has not written.
  keyFor(values, makeKey) {
    const text = JSON.stringify(values);
    if (!this.#last || this.#last.values !== text) this.#last = { values: text, key: makeKey() };
    return this.#last.key;
  }

  // The write went through (or was refused with userErrors: nothing written, a new attempt may change the values).
  settled() { this.#last = null; }

  // Run `query` once at a time; null when one is in flight already or the user was signed out.
  async send(query, variables, onBusy) {
    if (this.#busy) return null;
    this.#busy = true;
    onBusy(true);
    try {
      let body = await this.api.gql(query, variables);
      for (let attempt = 0; attempt < RETRIES && body && body.retryable; attempt++) {
        await sleep(RETRY_DELAY_MS * (attempt + 1));
        body = await this.api.gql(query, variables);
      }
      return body;
    } finally {
      this.#busy = false;
      onBusy(false);
    }
  }
}
