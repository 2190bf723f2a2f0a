"""The sky position under the pointer, read out on the map in the browser.

The maps are astropy WCS projections (``AIT``, ``MOL``, and ``SIN`` centred on
the field) whose pixel coordinates are projected degrees with longitude
increasing to the left (see :func:`esap_dash.core.sky.sky_wcs`).  The browser
inverts the projection itself (Calabretta & Greisen 2002, A&A 395, 1077, eqs.
for AIT and MOL; the orthographic inverse about the field's centre for SIN) on
every pointer move, so reading positions costs the server nothing.
"""

from __future__ import annotations

from typing import Any

from bokeh.models import CustomJS, Label

from ...core.sky import PROJECTIONS

__all__ = ["pointer_readout"]

#: Galactic to ICRS: the transpose of the Hipparcos ICRS-to-galactic matrix
#: (ESA 1997, vol. 1, sect. 1.5.3).
GALACTIC_TO_ICRS = [[-0.0548755604162154, 0.4941094278755837, -0.8676661490190047],
                    [-0.8734370902348850, -0.4448296299600112, -0.1980763734312015],
                    [-0.4838350155487132, 0.7469822444972189, 0.4559837761750669]]

_CODE = """
const D = Math.PI / 180;
const xi = -cb_obj.x, yi = cb_obj.y;   // intermediate world coordinates (CDELT1 = -1)
let lon = NaN, lat = NaN;
if (code === "AIT") {
  const z2 = 1 - (Math.PI * xi / 720) ** 2 - (Math.PI * yi / 360) ** 2;
  if (z2 >= 0.5) {
    const z = Math.sqrt(z2);
    lon = 2 * Math.atan2(Math.PI * z * xi / 360, 2 * z2 - 1) / D;
    lat = Math.asin(Math.PI * yi * z / 180) / D;
  }
} else if (code === "SIN") {
  const x = xi * D, y = yi * D, rho = Math.hypot(x, y);
  if (rho <= 1) {
    const c = Math.asin(rho), l0 = centre[0] * D, b0 = centre[1] * D;
    if (rho === 0) { lon = centre[0]; lat = centre[1]; } else {
      lat = Math.asin(Math.cos(c) * Math.sin(b0) + y * Math.sin(c) * Math.cos(b0) / rho) / D;
      const across = rho * Math.cos(c) * Math.cos(b0) - y * Math.sin(c) * Math.sin(b0);
      lon = (l0 + Math.atan2(x * Math.sin(c), across)) / D;
    }
  }
} else if (code === "MOL") {
  const s = Math.PI * yi / (180 * Math.SQRT2);
  if (Math.abs(s) <= 1) {
    const g = Math.asin(s);
    const phi = Math.PI * xi / (2 * Math.SQRT2 * Math.cos(g));
    if (Math.abs(phi) <= 180) {
      lon = phi;
      lat = Math.asin((2 * g + Math.sin(2 * g)) / Math.PI) / D;
    }
  }
}
if (!isFinite(lon) || !isFinite(lat)) { label.text = ""; return; }
lon = ((lon % 360) + 360) % 360;
function sexagesimal(value, places, signed) {
  const sign = value < 0 ? "-" : (signed ? "+" : "");
  const scale = 10 ** places;
  let rest = Math.round(Math.abs(value) * 3600 * scale);
  const whole = Math.floor(rest / (3600 * scale)); rest -= whole * 3600 * scale;
  const minutes = Math.floor(rest / (60 * scale)); rest -= minutes * 60 * scale;
  const seconds = (rest / scale).toFixed(places).padStart(places ? 3 + places : 2, "0");
  return sign + String(whole).padStart(2, "0") + ":" + String(minutes).padStart(2, "0")
    + ":" + seconds;
}
let ra = lon, dec = lat, prefix = "";
if (frame === "galactic") {
  const v = [Math.cos(lat * D) * Math.cos(lon * D), Math.cos(lat * D) * Math.sin(lon * D),
             Math.sin(lat * D)];
  const e = matrix.map(row => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);
  ra = ((Math.atan2(e[1], e[0]) / D) % 360 + 360) % 360;
  dec = Math.asin(Math.max(-1, Math.min(1, e[2]))) / D;
  prefix = "l " + lon.toFixed(4) + "°  b " + (lat >= 0 ? "+" : "") + lat.toFixed(4) + "°   ";
}
label.text = prefix + "RA " + sexagesimal(ra / 15, 2, false) + "  Dec "
  + sexagesimal(dec, 1, true) + "  (ICRS)";
"""


def pointer_readout(plot: Any, element: Any, *, projection: str, frame: str,
                    centre: tuple[float, float] = (0.0, 0.0)) -> None:
    """A HoloViews plot hook: the sky position under the pointer, written in the
    map's lower left corner (frame coordinates and ICRS in sexagesimal).

    Parameters
    ----------
    plot, element
        What HoloViews hands a hook.
    projection : str
        A name of :data:`esap_dash.core.sky.PROJECTIONS`.
    frame : str
        ``icrs`` or ``galactic``.
    centre : tuple of float
        Where a centred projection touches the sky (the frame's degrees).
    """
    figure = plot.state
    if any("pointer" in (getattr(r, "tags", None) or []) for r in figure.center):
        return
    label = Label(x=8, y=8, x_units="screen", y_units="screen", text="",
                  text_font_size="12px", text_color="#1f2a44",
                  background_fill_color="#ffffff", background_fill_alpha=0.85,
                  tags=["pointer"], name="pointer-readout")
    figure.add_layout(label)
    figure.js_on_event("mousemove", CustomJS(
        args={"label": label, "code": PROJECTIONS[projection], "frame": frame,
              "centre": list(centre), "matrix": GALACTIC_TO_ICRS}, code=_CODE))
    figure.js_on_event("mouseleave", CustomJS(args={"label": label},
                                              code='label.text = "";'))
