"""The notebook and script client of a deployment's HTTP API (its public path; the code
is :mod:`esap_dash.http.client`)."""

from .http.client import TOKEN_VARIABLE, URL_VARIABLE, ApiError, Client, RemoteCart

__all__ = ["TOKEN_VARIABLE", "URL_VARIABLE", "ApiError", "Client", "RemoteCart"]
