// GraphQL documents of the KPIs page.
const KPI_FIELDS = `id version name description formula aggregation unit target direction comparison labels updatedAt`;

export const KPIS = `query Kpis { kpis { ${KPI_FIELDS} } }`;

export const KPI_READING = `
query KpiReading($id: ID!, $last: String) {
  kpi(id: $id, last: $last) { value previous change status from to }
}`;

export const CREATE_KPI = `mutation CreateKpi($input: KpiInput!) { createKpi(input: $input) { id version } }`;

export const UPDATE_KPI = `
mutation UpdateKpi($id: ID!, $version: Int!, $input: KpiInput!) {
  updateKpi(id: $id, version: $version, input: $input) { id version }
}`;

export const DELETE_KPI = `mutation DeleteKpi($id: ID!) { deleteKpi(id: $id) }`;

export const CREATE_KPI_ALERT = `
mutation CreateKpiAlert($kpi: ID!, $for: String!, $window: String!, $severity: Severity!, $channels: [String!]) {
  createKpiAlert(kpi: $kpi, for: $for, window: $window, severity: $severity, channels: $channels) { id name }
}`;

export const KPI_CHANNELS = `query KpiChannels { channels { name kind } }`;
