// The GraphQL documents of the UI.
export const WIDGET_DATA = `
fragment WidgetDataFields on WidgetData {
  __typename
  ... on ChartData { style series { name labels data } }
  ... on KpiData { value previous change sparkline status target direction }
  ... on HeatmapData { rowLabels timestamps values }
  ... on TableData { rows { name labels summary { count min max avg last } } }
  ... on AlertsData { alerts { id name severity state instances { state value } } }
  ... on AnomaliesData { detector series { name labels data } anomalies { labels timestamp value score } }
  ... on ForecastData { model history { name labels data } forecast { data } lower upper }
  ... on PanelData { kind available message }
}`;

export const DASHBOARD = `
query Dashboard($id: ID!, $range: String, $from: DateTime, $to: DateTime, $vars: JSON) {
  dashboard(id: $id, timeRange: $range, from: $from, to: $to, variables: $vars) {
    id name version timeRange
    variables { name label value options }
    widgets {
      id type title style unit
      thresholds { value color }
      position { x y w h }
      query { kind name formula labels aggregation step groupBy last source }
      data { ...WidgetDataFields }
    }
  }
}
${WIDGET_DATA}`;

export const UPDATES = `
subscription DashboardUpdates($id: ID!, $range: String, $from: DateTime, $to: DateTime, $vars: JSON) {
  dashboardUpdates(id: $id, timeRange: $range, from: $from, to: $to, variables: $vars) {
    version timestamp
    widgets { widgetId data { ...WidgetDataFields } }
  }
}
${WIDGET_DATA}`;

export const DASHBOARDS = `{ viewer dashboards { id name version timeRange widgets { id type } } }`;

export const CREATE_REALTIME = `
mutation { createRealtimeDashboard(widgets: ["system_health", "user_activity", "revenue"]) { id } }`;

export const VIEWER = `{ viewer }`;
