// The GraphQL documents the timeline page sends: reads, writes, and the live subscription.

// What the page shows of an activity; a fragment on the interface, so that it spreads into the timeline's
// Activity and into the payloads' ClinicalActivity and MedicalActivity alike.
const ACTIVITY_FRAGMENT = `fragment ActivityFields on Activity {
  __typename id kind date channel status owner subject
  ... on ClinicalActivity { context { __typename ... on Study { name } ... on StudySite { name }
    ... on StudyCountry { name } ... on StudyPersonnel { role study { name } } } }
  ... on MedicalActivity { connection { id name } crmCallId }
  sync { connection { name } state attempts lastError updatedAt }
}`;

export const VIEWER_QUERY = `query ViewerPermissions { viewer { permissions } }`;

export const PEOPLE_QUERY = `query People($search: String) {
  people(search: $search, first: 20) { edges { node { id firstName lastName email } } }
}`;

export const TIMELINE_QUERY = `query Timeline($id: ID!, $first: Int!, $after: String, $filter: TimelineFilter) {
  person(id: $id) {
    id firstName lastName
    accounts { connection { id name } accountId }
    studyRoles { id role study { name } }
    timeline(first: $first, after: $after, filter: $filter) {
      edges { cursor node { ...ActivityFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
${ACTIVITY_FRAGMENT}`;

// The context picker: studies by name with their countries and sites.
export const STUDIES_QUERY = `query Studies($search: String, $first: Int!) {
  studies(search: $search, first: $first) {
    edges { node { id name countries { id name } sites { id name } } }
  }
}`;

export const CREATE_ACTIVITY = `mutation LogActivity($input: CreateClinicalActivityInput!) {
  createClinicalActivity(input: $input) { activity { ...ActivityFields } userErrors { field message code } }
}
${ACTIVITY_FRAGMENT}`;

export const UPDATE_ACTIVITY = `mutation EditActivity($input: UpdateClinicalActivityInput!) {
  updateClinicalActivity(input: $input) { activity { ...ActivityFields } userErrors { field message code } }
}
${ACTIVITY_FRAGMENT}`;

export const DELETE_ACTIVITY = `mutation DeleteActivity($id: ID!) {
  deleteClinicalActivity(id: $id) { deletedId userErrors { field message code } }
}`;

export const LOG_CALL = `mutation LogCall($input: LogCallInput!) {
  logCall(input: $input) { callId activity { ...ActivityFields } userErrors { field message code } }
}
${ACTIVITY_FRAGMENT}`;

export const SEND_CALL = `mutation SendCall($input: SendCallToClinicalInput!) {
  sendCallToClinical(input: $input) { activity { ...ActivityFields } userErrors { field message code } }
}
${ACTIVITY_FRAGMENT}`;

export const ACTIVITY_CHANGED = `subscription ActivityChanged($personId: ID!) {
  activityChanged(personId: $personId) { change personId activityId activity { ...ActivityFields } }
}
${ACTIVITY_FRAGMENT}`;
