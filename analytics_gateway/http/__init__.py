"""The Starlette side: GraphQL over HTTP and WebSocket, REST routes, pages, middleware.

Each module exposes `routes()`; `app.create_app` puts them together. Handlers
reach the app's services through Starlette's lifespan state
(`request.state.services`), never through globals or closures.
"""
