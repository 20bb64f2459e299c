// GraphQL documents of the reports page.
const REPORT_FIELDS = `
  id version name kpis period schedule timeZone recipients nextRunAt createdAt updatedAt
  panels { metric labels aggregation groupBy title }`;

export const REPORTS = `
query Reports {
  reports { ${REPORT_FIELDS} }
  kpis { id name }
  channels { id name kind }
}`;

export const REPORT = `query Report($id: ID!) { report(id: $id) { ${REPORT_FIELDS} } }`;

// what the form picks from: the tenant's KPIs, channels and metric names
export const REPORT_CHOICES = `
query ReportChoices {
  kpis { id name unit }
  channels { id name kind }
  metricNames
}`;

export const CREATE_REPORT = `
mutation CreateReport($input: ReportInput!) { createReport(input: $input) { id version nextRunAt } }`;

export const UPDATE_REPORT = `
mutation UpdateReport($id: ID!, $version: Int!, $input: ReportInput!) {
  updateReport(id: $id, version: $version, input: $input) { id version nextRunAt }
}`;

export const DELETE_REPORT = `mutation DeleteReport($id: ID!) { deleteReport(id: $id) }`;

// the PDF is not asked for here: "Download PDF" fetches it from the REST route
export const GENERATE_REPORT = `
query GenerateReport($id: ID!, $from: DateTime, $to: DateTime, $period: ReportWindow) {
  generateReport(id: $id, from: $from, to: $to, period: $period) {
    reportId name from to previousFrom previousTo periodText
    kpis { id name unit value previous change target status }
    insights { kind subject sentence figures }
    html pdfBytes
  }
}`;
