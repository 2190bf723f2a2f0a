"""The model: deployment profiles, who acts, the store and its migrations, carts and
their exports, provenance, searches and their fan-out, health, sky geometry and
surveys, links, spectra.  It imports no other layer of esap-dash."""

#: Environment variables naming the deployment and holding the user's access token
#: (notebooks and scripts anywhere; see :mod:`esap_dash.http.client`).
URL_VARIABLE = "ESAP_DASH_URL"
TOKEN_VARIABLE = "ESAP_DASH_TOKEN"
