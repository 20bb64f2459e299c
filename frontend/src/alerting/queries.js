// GraphQL documents of the alerting pages.
const RULE_FIELDS = `
  id name condition kind severity for keepFiringFor interval channels actions labels annotations
  enabled groupBy groupWait groupInterval repeatInterval version state
  instances { labels state value since activeSince firedAt error }`;

const EVENT_FIELDS = `
  id kind alertId alertName severity labels previousState state value at error
  notification { status reason silenceIds }`;

export const RULES = `query AlertRules { alerts { ${RULE_FIELDS} } }`;

export const RULE = `
query AlertRule($id: ID!, $limit: Int!) {
  alert(id: $id) { ${RULE_FIELDS} history(limit: $limit) { ${EVENT_FIELDS} } }
}`;

export const CHANNEL_NAMES = `query ChannelNames { channels { name kind } }`;

export const CREATE_RULE = `
mutation CreateAlert($input: AlertRuleInput!) { createAlert(input: $input) { id version } }`;

export const UPDATE_RULE = `
mutation UpdateAlert($id: ID!, $input: AlertRuleInput!, $version: Int) {
  updateAlert(id: $id, input: $input, version: $version) { id version }
}`;

export const DELETE_RULE = `mutation DeleteAlert($id: ID!) { deleteAlert(id: $id) }`;

export const SIMULATE = `
query SimulateAlert($rule: AlertRuleInput!, $last: String!) {
  simulateAlert(rule: $rule, last: $last) {
    evaluations
    transitions { labels previousState state value at }
    notifications { id target action status at }
  }
}`;

export const SILENCES = `
query Silences { silences { id matchers { label operator value } startsAt endsAt createdBy comment active } }`;

export const CREATE_SILENCE = `
mutation CreateSilence($input: SilenceInput!) { createSilence(input: $input) { id active } }`;

export const EXPIRE_SILENCE = `mutation ExpireSilence($id: ID!) { expireSilence(id: $id) { id active } }`;

export const CHANNELS = `
query Channels {
  channels { id name kind url hasSecret timeout maxRetries smtpHost smtpPort startTls sender recipients version }
}`;

export const CREATE_CHANNEL = `
mutation CreateChannel($input: ChannelInput!) { createChannel(input: $input) { id name } }`;

export const DELETE_CHANNEL = `mutation DeleteChannel($id: ID!) { deleteChannel(id: $id) }`;

export const TEST_CHANNEL = `
mutation TestChannel($id: ID!) { testChannel(id: $id) { ok outcome error } }`;

export const ALERT_EVENTS = `subscription AlertEvents { alertEvents { ${EVENT_FIELDS} cursor } }`;

export const METRIC_NAMES = `query MetricNames { metricNames }`;
