"""The aiohttp edge: the application, its routes and the wrapper every handler runs in.

Handlers parse a request, call :class:`~mockgateway._gateway.Gateway` and serialise. Every error a
client sees is an :class:`~mockgateway._errors.ApiError` rendered from the table in
:mod:`mockgateway._errors`.
"""

from ._app import make_app, serving_handler

__all__ = ["make_app", "serving_handler"]
