// A person, their accounts and their merged timeline: the same VQL/SOQL as the gateway, the same merge (newest
// first, ties by "<source>:<record id>"), the same ids, cursors and sync states.
import { quote } from './backends.mjs';

const CTMS_CHANNELS = { in_person__v: 'IN_PERSON', video__v: 'VIDEO', phone__v: 'PHONE', chat_text__v: 'CHAT_TEXT',
  email__v: 'EMAIL', other__v: 'OTHER' };
const CRM_CHANNELS = { Face_to_face_vod: 'IN_PERSON', Video_vod: 'VIDEO', Phone_vod: 'PHONE',
  Message_vod: 'CHAT_TEXT', Email_vod: 'EMAIL', Other_vod: 'OTHER' };
const ACTIVITY_FIELDS = ['id', 'object_type__v.api_name__v', 'modified_date__v', 'person__v', 'study__v',
  'study_country__v', 'site__v', 'study_person__v', 'activity_date__v', 'channel__v', 'completed__v', 'subject__v',
  'owner__v', 'crm_org__v', 'crm_call_id__v', 'crm_call_key__v', 'gateway_request__v'];
const CALL_FIELDS = (identifier) => ['Id', 'Account_vod__c', `Account_vod__r.${identifier}`, 'Call_Date_vod__c',
  'Status_vod__c', 'Call_Channel_vod__c', 'Subject_vod__c', 'Send_To_Vault_Clinical_vod__c', 'CreatedBy.FirstName',
  'CreatedBy.LastName', 'CreatedBy.Email', 'SystemModstamp'];

export const toGlobal = (type, raw) => Buffer.from(`${type}:${raw}`).toString('base64url');

export function fromGlobal(value, type) {
  const text = Buffer.from(value, 'base64url').toString();
  const at = text.indexOf(':');
  if (at > 0 && text.slice(0, at) === type) return text.slice(at + 1);
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$/.test(value)) return value;
  throw new Error(`id: not a valid ${type} id`);
}

const picklist = (v) => (Array.isArray(v) ? v[0] : v);
const text = (v) => (v === null || v === undefined || v === '' ? null : String(v));
const truthy = (v) => (typeof v === 'string' ? ['true', 'yes', 'yes__v'].includes(v.toLowerCase()) : Boolean(v));
const day = (v) => String(v).slice(0, 10);

// Python's datetime.isoformat() of a UTC instant: seconds, microseconds only when not zero, "+00:00".
export function isoUtc(value) {
  if (value === null || value === undefined || value === '') return null;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]00:?00)?$/.exec(String(value).trim());
  if (!m) {
    const ms = new Date(value).toISOString();
    return isoUtc(ms);
  }
  const micro = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  return `${m[1]}T${m[2]}${/^0+$/.test(micro) ? '' : `.${micro}`}+00:00`;
}

function ownerText(first, last, email) {
  const name = [first, last].filter((p) => p && p.trim()).map((p) => p.trim()).join(' ');
  const mail = (email ?? '').trim();
  if (!name && !mail) return null;
  return (name && mail ? `${name} (${mail})` : name || `(${mail})`).slice(0, 255);
}

export async function fetchPerson(vault, id, identifiers) {
  const rows = await vault.query(`SELECT ${['id', 'first_name__sys', 'last_name__sys', 'email__sys', ...identifiers]
    .join(', ')} FROM person__sys WHERE id IN (${quote(id)})`);
  const rec = rows.find((r) => r.id === id);
  if (!rec) return null;
  return { id: rec.id, firstName: rec.first_name__sys ?? '', lastName: rec.last_name__sys ?? '',
    email: rec.email__sys ?? null, identifiers: Object.fromEntries(identifiers.map((f) => [f, text(rec[f])])) };
}

export async function ctmsActivities(vault, personId, orgNames, first) {
  const others = orgNames.map((o) => ` AND (crm_org__v != ${quote(o)})`).join('');
  const rows = await vault.query(`SELECT ${ACTIVITY_FIELDS.join(', ')} FROM crm_activity__v WHERE (person__v IN `
    + `(${quote(personId)})) AND ((object_type__v = 'clinical_activity__v') OR ((object_type__v = `
    + `'medical_activity__v')${others})) ORDER BY activity_date__v DESC, id DESC PAGESIZE ${first + 1}`);
  return rows.map((r) => {
    const base = { date: day(r.activity_date__v), channel: CTMS_CHANNELS[picklist(r.channel__v)],
      status: truthy(r.completed__v) ? 'COMPLETED' : 'PLANNED', owner: r.owner__v ?? null,
      subject: r.subject__v ?? null, modifiedAt: isoUtc(r.modified_date__v), key: `ctms:${r.id}` };
    if (picklist(r['object_type__v.api_name__v']) === 'medical_activity__v') {
      const callKey = `${r.crm_org__v ?? ''}:${r.crm_call_id__v ?? ''}`;
      return { ...base, __typename: 'MedicalActivity', kind: 'MEDICAL', source: 'CRM',
        id: toGlobal('MedicalActivity', callKey), ctmsId: r.id, callKey };
    }
    return { ...base, __typename: 'ClinicalActivity', kind: 'CLINICAL', source: 'CTMS',
      id: toGlobal('ClinicalActivity', r.id), ctmsId: r.id };
  });
}

export async function orgCalls(org, value, first) {
  const rel = `Account_vod__r.${org.crmField}`;
  const rows = await org.query(`SELECT ${CALL_FIELDS(org.crmField).join(', ')} FROM Call2_vod__c WHERE (${rel} IN `
    + `(${quote(value)})) AND (Send_To_Vault_Clinical_vod__c = true) ORDER BY Call_Date_vod__c DESC, Id DESC `
    + `LIMIT ${first + 1}`);
  return rows.map((r) => {
    const by = r.CreatedBy ?? {};
    const callKey = `${org.org}:${r.Id}`;
    return { __typename: 'MedicalActivity', kind: 'MEDICAL', source: 'CRM', id: toGlobal('MedicalActivity', callKey),
      date: day(r.Call_Date_vod__c), channel: CRM_CHANNELS[r.Call_Channel_vod__c],
      status: r.Status_vod__c === 'Submitted_vod' ? 'COMPLETED' : 'PLANNED',
      owner: ownerText(by.FirstName, by.LastName, by.Email), subject: r.Subject_vod__c ?? null,
      modifiedAt: isoUtc(r.SystemModstamp), key: `crm:${org.org}:${r.Id}`, callKey, ctmsId: null };
  });
}

export async function orgAccounts(org, value) {
  const rows = await org.query(`SELECT Id, Name, ${org.crmField} FROM Account WHERE ${org.crmField} IN `
    + `(${quote(value)})`);
  return rows.filter((r) => text(r[org.crmField]) === value).sort((a, b) => (a.Id < b.Id ? -1 : a.Id > b.Id ? 1 : 0));
}

const cursor = (item) => Buffer.from(JSON.stringify({ v: 1, t: 'tl', d: item.date, k: item.key }))
  .toString('base64url');

export function merge(lists, first) {
  const items = lists.flat().sort((a, b) => (a.date !== b.date ? (a.date < b.date ? 1 : -1)
    : a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const page = items.slice(0, first);
  const edges = page.map((node) => ({ cursor: cursor(node), node }));
  return { edges, pageInfo: { hasNextPage: items.length > first, hasPreviousPage: false,
    startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null } };
}
