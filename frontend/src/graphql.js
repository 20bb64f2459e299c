// GraphQL answers as values or errors: `run` returns `data`, or throws a GatewayError
// carrying the first error's `extensions.code` (CONFLICT, BAD_USER_INPUT...).
export class GatewayError extends Error {
  constructor(message, code, extensions = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

export async function run(api, query, variables = {}) {
  const body = await api.query(query, variables);
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new GatewayError(first.message, first.extensions?.code ?? null, first.extensions ?? {});
  }
  return body.data;
}
