// The Node peer of the gateway for `python -m bench.load`: Apollo Server 5 with the gateway's own public schema,
// answering `person(id) { accounts, timeline(first) { ... sync } }` over the same stand-ins with the same backend
// requests, the same merge and the same JSON. Only what that query reaches is implemented.
//
// Configuration: PEER_PORT, and PEER_CONFIG, a JSON object:
//   { "ctms": {url, version, username, password}, "orgs": [{name, url, apiVersion, clientId, clientSecret,
//     ctmsField, crmField}], "issuer": "http://idp" | null, "audience": "ccgw", "database": "path/to/gateway.db" }
// With an issuer, every request needs a bearer JWT that verifies (signature from the issuer's JWKS, iss, aud,
// exp/nbf), as the gateway's do; profiles are not implemented (the benchmark's user holds every permission).
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { GraphQLError } from 'graphql';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Org, Vault } from './backends.mjs';
import { Mirrors } from './mirrors.mjs';
import { ctmsActivities, fetchPerson, fromGlobal, merge, orgAccounts, orgCalls, toGlobal } from './timeline.mjs';

const config = JSON.parse(process.env.PEER_CONFIG);
const vault = new Vault(config.ctms);
const orgs = config.orgs.map((o) => new Org(o)).sort((a, b) => (a.org < b.org ? -1 : 1));
const identifierFields = [...new Set(orgs.map((o) => o.ctmsField))].sort();
const mirrors = new Mirrors(config.database);
const jwks = config.issuer ? createRemoteJWKSet(new URL((await (await fetch(
  `${config.issuer}/.well-known/openid-configuration`)).json()).jwks_uri)) : null;
// A person's identifier values as last seen, so their CRM queries start with the person's own (bounded).
const knownIdentifiers = new Map();
const KNOWN_MAX = 10_000;

function remember(person) {
  knownIdentifiers.delete(person.id);
  knownIdentifiers.set(person.id, person.identifiers);
  if (knownIdentifiers.size > KNOWN_MAX) knownIdentifiers.delete(knownIdentifiers.keys().next().value);
}

// One promise per backend read and request: a prefetch and the resolver that needs it share it.
function once(ctx, key, run) {
  let p = ctx.memo.get(key);
  if (!p) {
    p = run();
    p.catch(() => {});
    ctx.memo.set(key, p);
  }
  return p;
}

const reads = {
  activities: (ctx, personId, first) => once(ctx, `a|${personId}|${first}`,
    () => ctmsActivities(vault, personId, orgs.map((o) => o.org), first)),
  calls: (ctx, org, value, first) => once(ctx, `c|${org.org}|${value}|${first}`, () => orgCalls(org, value, first)),
  accounts: (ctx, org, value) => once(ctx, `n|${org.org}|${value}`, () => orgAccounts(org, value)),
};

function timelineFirst(info) {
  const field = info.fieldNodes[0].selectionSet?.selections.find((s) => s.kind === 'Field'
    && s.name.value === 'timeline');
  if (!field) return null;
  const arg = field.arguments.find((a) => a.name.value === 'first');
  if (!arg) return 20;
  return arg.value.kind === 'Variable' ? info.variableValues[arg.value.name.value] : Number(arg.value.value);
}

function checkFirst(first) {
  if (!Number.isInteger(first) || first < 0 || first > 100) {
    throw new GraphQLError('first: must be between 0 and 100', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return first;
}

function prefetch(ctx, personId, info) {
  const first = timelineFirst(info);
  if (!Number.isInteger(first) || first < 0 || first > 100) return;
  reads.activities(ctx, personId, first);
  const known = knownIdentifiers.get(personId) ?? {};
  const accounts = selects(info, 'accounts');
  for (const org of orgs) {
    if (!known[org.ctmsField]) continue;
    reads.calls(ctx, org, known[org.ctmsField], first);
    if (accounts) reads.accounts(ctx, org, known[org.ctmsField]);
  }
}

function selects(info, name) {
  return info.fieldNodes[0].selectionSet?.selections.some((s) => s.kind === 'Field' && s.name.value === name);
}

const connection = (name) => ({ id: toGlobal('Connection', name), name });

const resolvers = {
  Query: {
    async person(_, { id }, ctx, info) {
      const raw = fromGlobal(id, 'Person');
      prefetch(ctx, raw, info);
      const person = await fetchPerson(vault, raw, identifierFields);
      if (!person) return null;
      remember(person);
      return { ...person, ctmsId: person.id, id: toGlobal('Person', person.id) };
    },
  },
  Person: {
    async accounts(person, _, ctx) {
      const found = await Promise.all(orgs.map(async (org) => {
        const value = person.identifiers[org.ctmsField];
        const accounts = value ? await reads.accounts(ctx, org, value) : [];
        return accounts.length === 1
          ? { connection: connection(org.org), accountId: accounts[0].Id, name: accounts[0].Name ?? '' } : null;
      }));
      return found.filter(Boolean);
    },
    async timeline(person, { first = 20, after, filter }, ctx) {
      if (after || filter) throw new GraphQLError('the peer implements the first page without filters only');
      const n = checkFirst(first ?? 20);
      const lists = await Promise.all([reads.activities(ctx, person.ctmsId, n), ...orgs.map((org) => {
        const value = person.identifiers[org.ctmsField];
        return value ? reads.calls(ctx, org, value, n) : [];
      })]);
      const page = merge(lists, n);
      mirrors.attach(page.edges.map((e) => e.node), orgs);
      return page;
    },
  },
  Activity: { __resolveType: (node) => node.__typename },
  Node: { __resolveType: (node) => node.__typename },
  SyncStatus: { connection: (s) => (s.connection ? connection(s.connection.name) : null) },
};

async function authenticate(req) {
  if (!jwks) return null;
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : '';
  try {
    const { payload } = await jwtVerify(token, jwks, { issuer: config.issuer, audience: config.audience,
      clockTolerance: 30 });
    return payload;
  } catch {
    throw new GraphQLError('a valid bearer token is required',
      { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
  }
}

const typeDefs = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
const server = new ApolloServer({ typeDefs, resolvers, introspection: false });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(process.env.PEER_PORT ?? 4000), host: '127.0.0.1' },
  context: async ({ req }) => ({ user: await authenticate(req), memo: new Map() }),
});
console.log(`peer ready at ${url}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await server.stop();
    await Promise.all([vault.close(), ...orgs.map((o) => o.close())]);
    process.exit(0);
  });
}
