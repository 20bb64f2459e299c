// GraphQL documents of the dashboard editor.
export const DEFINITION = `
query Definition($id: ID!) {
  dashboard(id: $id) {
    id name version layout timeRange
    variables { name label default options optionsMetric optionsLabel }
    widgets {
      id type title style unit
      thresholds { value color }
      position { x y w h }
      query { kind name formula labels aggregation step groupBy last source }
    }
  }
}`;

export const CURRENT_VERSION = `query CurrentVersion($id: ID!) { dashboard(id: $id) { version } }`;

export const UPDATE = `
mutation SaveDashboard($id: ID!, $version: Int!, $input: DashboardInput!) {
  updateDashboard(id: $id, version: $version, input: $input) { id version }
}`;

export const CREATE = `
mutation CreateDashboard($name: String!, $components: [WidgetInput!]!, $layout: DashboardLayout!,
                         $timeRange: String!, $variables: [DashboardVariableInput!]) {
  createCustomDashboard(name: $name, components: $components, layout: $layout,
                        timeRange: $timeRange, variables: $variables) { id version }
}`;

export const DELETE = `mutation DeleteDashboard($id: ID!) { deleteDashboard(id: $id) }`;

export const METRIC_NAMES = `query MetricNames { metricNames }`;

export const EVENT_TYPES = `query EventTypes { eventTypes }`;

export const LABEL_NAMES = `query LabelNames($metric: String!) { labelNames(metric: $metric) }`;

export const LABEL_VALUES = `
query LabelValues($metric: String!, $label: String!) { labelValues(metric: $metric, label: $label) }`;

export const PREVIEW_METRIC = `
query PreviewMetric($query: MetricQuery!) { metrics(query: $query) { name labels data } }`;

export const PREVIEW_EVENTS = `
query PreviewEvents($type: String!, $last: String!, $step: String!, $groupBy: String) {
  eventCounts(type: $type, last: $last, step: $step, groupBy: $groupBy) { name labels data }
}`;
