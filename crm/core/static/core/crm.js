/* 金仕会 CRM shell: tabs in the main area, double-click to open, 【重置】, export of the current search. */
(function () {
  "use strict";
  var tabs = document.getElementById("crm-tabs");
  var panes = document.getElementById("crm-panes");
  if (!tabs || !panes) { return; }
  var STORE = "crm.tabs";

  function paneFor(key) {
    return Array.prototype.find.call(panes.children, function (p) { return p.dataset.tabKey === key; });
  }
  function tabFor(key) {
    return Array.prototype.find.call(tabs.children, function (t) { return t.dataset.tabKey === key; });
  }
  function save() {
    var list = Array.prototype.map.call(tabs.children, function (t) {
      return { key: t.dataset.tabKey, title: t.dataset.tabTitle, url: paneFor(t.dataset.tabKey).dataset.url };
    });
    var active = tabs.querySelector(".nav-link.active");
    try {
      sessionStorage.setItem(STORE, JSON.stringify({ tabs: list, active: active ? active.parentNode.dataset.tabKey : null }));
    } catch (e) { /* private mode: tabs simply are not restored */ }
  }
  function addHeader(key, title) {
    var li = document.createElement("li");
    li.className = "nav-item";
    li.dataset.tabKey = key;
    li.dataset.tabTitle = title;
    li.setAttribute("role", "presentation");
    var a = document.createElement("a");
    a.className = "nav-link";
    a.href = "#";
    a.setAttribute("role", "tab");
    a.textContent = title;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "crm-tab-close";
    close.setAttribute("aria-label", (tabs.dataset.closeLabel || "关闭") + " " + title);
    close.innerHTML = "&times;";
    a.appendChild(close);
    li.appendChild(a);
    tabs.appendChild(li);
    return li;
  }
  function load(pane) {
    pane.dataset.loaded = "1";
    pane.textContent = tabs.dataset.loadingLabel || "…";
    htmx.ajax("GET", pane.dataset.url, { target: pane, swap: "innerHTML" });
  }
  function activate(key) {
    Array.prototype.forEach.call(tabs.children, function (t) {
      var on = t.dataset.tabKey === key;
      t.firstChild.classList.toggle("active", on);
      t.firstChild.setAttribute("aria-selected", on ? "true" : "false");
    });
    Array.prototype.forEach.call(panes.children, function (p) {
      p.hidden = p.dataset.tabKey !== key;
      if (!p.hidden && !p.dataset.loaded) { load(p); }
    });
    document.querySelectorAll(".crm-menu-link").forEach(function (a) {
      a.classList.toggle("active", a.dataset.tabKey === key);
    });
    var t = tabFor(key);
    if (t) { document.title = t.dataset.tabTitle; }
    save();
  }
  function open(key, title, url) {
    if (!tabFor(key)) {
      addHeader(key, title);
      var pane = document.createElement("section");
      pane.className = "crm-pane";
      pane.dataset.tabKey = key;
      pane.dataset.tabTitle = title;
      pane.dataset.url = url;
      panes.appendChild(pane);
    }
    activate(key);
  }
  function close(key) {
    var t = tabFor(key);
    var wasActive = t && t.firstChild.classList.contains("active");
    var neighbour = t && (t.previousElementSibling || t.nextElementSibling);
    if (t) { t.remove(); }
    var p = paneFor(key);
    if (p) { p.remove(); }
    if (wasActive && neighbour) { activate(neighbour.dataset.tabKey); } else { save(); }
  }

  // The page the server rendered is the first tab; tabs of this browser session come back after a reload.
  var first = panes.querySelector(".crm-pane");
  if (first) {
    first.dataset.loaded = "1";
    addHeader(first.dataset.tabKey, first.dataset.tabTitle);
  }
  try {
    var stored = JSON.parse(sessionStorage.getItem(STORE) || "null");
    if (stored && stored.tabs) {
      stored.tabs.forEach(function (t) {
        if (!tabFor(t.key)) {
          addHeader(t.key, t.title);
          var pane = document.createElement("section");
          pane.className = "crm-pane";
          pane.dataset.tabKey = t.key;
          pane.dataset.tabTitle = t.title;
          pane.dataset.url = t.url;
          pane.hidden = true;
          panes.appendChild(pane);
        }
      });
    }
  } catch (e) { /* ignore a damaged store */ }
  if (first) { activate(first.dataset.tabKey); }

  document.addEventListener("click", function (e) {
    var closeBtn = e.target.closest(".crm-tab-close");
    if (closeBtn) {
      e.preventDefault();
      e.stopPropagation();
      close(closeBtn.closest("li").dataset.tabKey);
      return;
    }
    var header = e.target.closest("#crm-tabs .nav-link");
    if (header) {
      e.preventDefault();
      activate(header.parentNode.dataset.tabKey);
      return;
    }
    var link = e.target.closest("a[data-tab-key]");
    if (link && !e.ctrlKey && !e.metaKey && !e.shiftKey && e.button === 0) {
      e.preventDefault();
      open(link.dataset.tabKey, link.dataset.tabTitle || link.textContent.trim(), link.getAttribute("href"));
      var sidebar = document.getElementById("crm-sidebar");
      if (sidebar && sidebar.classList.contains("show") && window.bootstrap) {
        bootstrap.Offcanvas.getOrCreateInstance(sidebar).hide();
      }
      return;
    }
    var reset = e.target.closest("[data-crm-reset]");
    if (reset) {
      var form = reset.closest("form");
      form.querySelectorAll("input, select, textarea").forEach(function (el) {
        if (el.type === "hidden") { return; }
        if (el.type === "checkbox" || el.type === "radio") { el.checked = false; } else { el.value = ""; }
      });
      htmx.trigger(form, "submit");
      return;
    }
    var quick = e.target.closest("[data-crm-quick]");
    if (quick) {
      var target = document.querySelector(quick.dataset.crmForm);
      var params = JSON.parse(quick.dataset.crmQuick);
      Object.keys(params).forEach(function (name) {
        var field = target.elements.namedItem(name);
        if (field) { field.value = params[name]; }
      });
      quick.parentNode.querySelectorAll("[data-crm-quick]").forEach(function (b) {
        b.classList.toggle("btn-secondary", b === quick);
        b.classList.toggle("btn-outline-secondary", b !== quick);
      });
      htmx.trigger(target, "submit");
      return;
    }
    var exp = e.target.closest("a[data-crm-export]");
    if (exp) {
      var searchForm = document.querySelector(exp.dataset.crmExport);
      if (searchForm) {
        e.preventDefault();
        var params = new URLSearchParams(new FormData(searchForm));
        params.set("export", "xlsx");
        window.location.href = searchForm.getAttribute("action") + "?" + params.toString();
      }
    }
  });

  // A page may rename its tab once it knows its record (a new application, once saved, is its title).
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var pane = e.detail.target.closest && e.detail.target.closest(".crm-pane");
    var named = pane && pane.querySelector("[data-crm-title]");
    var header = pane && tabFor(pane.dataset.tabKey);
    if (named && header && named.dataset.crmTitle) {
      header.dataset.tabTitle = named.dataset.crmTitle;
      header.firstChild.firstChild.nodeValue = named.dataset.crmTitle;
      save();
    }
  });

  function openRow(tr) {
    open(tr.dataset.tabKey, tr.dataset.tabTitle, tr.dataset.href);
  }
  document.addEventListener("dblclick", function (e) {
    var tr = e.target.closest("tr[data-href]");
    if (tr) { openRow(tr); }
  });
  document.addEventListener("keydown", function (e) {
    var tr = e.target.closest && e.target.closest("tr[data-href]");
    if (tr && e.key === "Enter") { openRow(tr); }
  });
})();
