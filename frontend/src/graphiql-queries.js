// The query GraphiQL opens with (checked against the schema like the UI's own).
export const EXAMPLE = `# Dashboards of your tenant, with every widget's data in one request
{
  dashboards { id name version }
  metrics(query: {name: "cpu_usage", last: "1h", step: "5m", aggregation: AVG, groupBy: ["host"]}) {
    labels
    summary { count avg last }
  }
}
`;
