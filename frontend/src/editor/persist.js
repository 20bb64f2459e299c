// Reading a dashboard for editing, and writing it back: save with the version it was
// read at (the gateway refuses a stale one with CONFLICT), save as new, delete.
import { GatewayError, run } from "../graphql.js";
import { fromGraphQL, toInput } from "./model.js";
import { CREATE, CURRENT_VERSION, DEFINITION, DELETE, UPDATE } from "./queries.js";

export class Conflict extends Error {
  constructor(message, current) {
    super(message);
    this.current = current; // the saved version, when the gateway says it
  }
}

export async function readDraft(api, id) {
  const data = await run(api, DEFINITION, { id });
  if (!data.dashboard) throw new Error(`no dashboard ${id}`);
  return fromGraphQL(data.dashboard);
}

export async function currentVersion(api, id) {
  return (await run(api, CURRENT_VERSION, { id })).dashboard.version;
}

export async function create(api, input) {
  const { name, widgets, layout, timeRange, variables } = input;
  const data = await run(api, CREATE, { name, components: widgets, layout, timeRange, variables });
  return data.createCustomDashboard;
}

// Saves `draft` over `version` (default: the one it was read at); new drafts are created.
export async function save(api, draft, version = draft.version) {
  const input = toInput(draft);
  if (draft.id === null) return create(api, input);
  try {
    return (await run(api, UPDATE, { id: draft.id, version, input })).updateDashboard;
  } catch (error) {
    if (error instanceof GatewayError && error.code === "CONFLICT") {
      throw new Conflict(error.message, error.extensions.current_version ?? null);
    }
    throw error;
  }
}

export async function remove(api, id) {
  return (await run(api, DELETE, { id })).deleteDashboard;
}
