// esap-dash: rows that reach a table while the browser still builds it are shown
// once it is built.
//
// Panel's Tabulator view ignores new rows until its table is built (Tabulator
// builds a table after a timer) and does not read them again when the build ends:
// a table shown and given its rows at once (a card that lists something as it
// opens, a page that reads its cart as it is shown) stayed empty on a busy machine.
// Here a view remembers rows it ignored and sets them when its table is built.
(function () {
  "use strict";
  var MODEL = "panel.models.tabulator.DataTabulator";

  function patch() {
    var models = window.Bokeh && window.Bokeh.Models;
    var model = models && typeof models.get === "function" ? models.get(MODEL) : null;
    if (!model) { return false; }
    var view = model.prototype.default_view && model.prototype.default_view.prototype;
    if (!view || view.esapRowsKept) { return true; }
    if (typeof view.setData !== "function" || typeof view.tableBuilt !== "function") {
      console.warn("esap-dash: Panel's Tabulator view has changed; rows that come while a " +
                   "table is built may not be shown");
      return true;
    }
    var setData = view.setData, tableBuilt = view.tableBuilt;
    view.setData = function () {
      if (this._initializing || this._building || !this.tabulator || !this.tabulator.initialized) {
        this.esapRowsMissed = true;
      }
      return setData.apply(this, arguments);
    };
    view.tableBuilt = function () {
      var built = tableBuilt.apply(this, arguments);
      if (this.esapRowsMissed) {
        this.esapRowsMissed = false;
        var self = this;
        this.setData().then(function () { self.postUpdate(); });
      }
      return built;
    };
    view.esapRowsKept = true;
    return true;
  }

  // Panel registers its models as its bundle loads, which may come after this file
  var tries = 0;
  (function again() {
    if (!patch() && ++tries < 600) { setTimeout(again, 50); }
  })();
})();
