"""The public /v1 JSON API, compatible with Missive's (spec/rest-api.md).

- `core.py`: the NinjaAPI instance, Bearer authentication, the error format.
- `tokens.py`: personal API tokens, stored hashed.
- `ratelimit.py`: the per-token limits, in Redis (a middleware, so refused requests cost nothing).
- `pagination.py`: offset pages and the `until` time cursor.
- one module per resource (`users.py`, ...), each with a Router that `core.py` mounts.

Views stay thin as elsewhere: check access through the same helpers the pages use (another
organization's object is a 404), call the `do_*` action, serialise.
"""
