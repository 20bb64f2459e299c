// GraphQL documents of Explore.
export const EXPLORE_SERIES = `
query ExploreSeries($query: MetricQuery!) {
  metrics(query: $query) { name labels data summary { count min max avg last } }
}`;

export const DASHBOARD_NAMES = `query DashboardNames { dashboards { id name } }`;
