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
  function open(key, title, url, refresh) {
    var existing = paneFor(key);
    if (existing && refresh && existing.dataset.loaded && !existing.dataset.dirty) {
      load(existing);  // a record opened again shows its current state, unless something is being typed there
    }
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
      open(link.dataset.tabKey, link.dataset.tabTitle || link.textContent.trim(), link.getAttribute("href"),
           !!link.closest("table"));
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
      e.preventDefault();
      var url = exp.href;
      var searchForm = document.querySelector(exp.dataset.crmExport);
      if (searchForm) {
        var params = new URLSearchParams(new FormData(searchForm));
        params.set("export", "xlsx");
        url = searchForm.getAttribute("action") + "?" + params.toString();
      }
      download(url, exp);
    }
  });

  // 【导出】 fetches the file and saves it, without leaving the page: a refusal (a condition in error, no
  // permission) is said in the tab, and what was typed stays.
  function download(url, link) {
    var pane = link.closest(".crm-pane") || document.body;
    pane.querySelectorAll(".crm-export-refusal").forEach(function (old) { old.remove(); });
    function refuse(text) {
      var box = document.createElement("div");
      box.className = "alert alert-danger py-2 crm-export-refusal";
      box.setAttribute("role", "alert");
      box.textContent = text;
      pane.prepend(box);
    }
    link.classList.add("disabled");
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      var type = r.headers.get("Content-Type") || "";
      if (r.ok && type.indexOf("spreadsheetml") >= 0) {
        return r.blob().then(function (blob) {
          var name = /filename\*=UTF-8''([^;]+)/.exec(r.headers.get("Content-Disposition") || "");
          var a = document.createElement("a");
          a.href = URL.createObjectURL(blob);
          a.download = name ? decodeURIComponent(name[1]) : "export.xlsx";
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
        });
      }
      return r.text().then(function (text) {
        refuse(type.indexOf("text/plain") === 0 ? text : tabs.dataset.errorLabel || "");
      });
    }).catch(function () {
      refuse(tabs.dataset.offlineLabel || "");
    }).finally(function () {
      link.classList.remove("disabled");
    });
  }

  function rename(header, title) {
    header.dataset.tabTitle = title;
    header.firstChild.firstChild.nodeValue = title;
    header.querySelector(".crm-tab-close").setAttribute("aria-label", (tabs.dataset.closeLabel || "关闭") + " " + title);
  }

  // A page may tell its tab what it now shows: a new record, once saved, has its own title and address, and
  // the tab becomes that record's tab (a second tab of the same record is closed).
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var pane = e.detail.target.closest && e.detail.target.closest(".crm-pane");
    var named = pane && pane.querySelector("[data-crm-title]");
    var header = pane && tabFor(pane.dataset.tabKey);
    if (!named || !header) { return; }
    var url = named.dataset.crmUrl;
    if (url && url !== pane.dataset.tabKey) {
      var other = paneFor(url);
      if (other && other !== pane) { tabFor(url).remove(); other.remove(); }
      pane.dataset.tabKey = url;
      header.dataset.tabKey = url;
      pane.dataset.url = url;
    }
    if (named.dataset.crmTitle) { rename(header, named.dataset.crmTitle); }
    save();
  });

  // A request that failed outright (a server error, or no network) says so in the tab it was for.
  function failure(e, label) {
    var target = e.detail.target && (e.detail.target.closest(".crm-pane") || e.detail.target);
    if (!target) { return; }
    var box = document.createElement("div");
    box.className = "alert alert-danger py-2";
    box.setAttribute("role", "alert");
    box.textContent = tabs.dataset[label] || "";
    target.prepend(box);
  }
  // A button that asks first (data-confirm): htmx reads hx-confirm from the form, not from the button pressed.
  // Not asked when the answer would be a refusal anyway (the server says why, and keeps what was typed): a bulk
  // action with no row ticked, or without the field it needs (data-needs), or a button marked data-check-first
  // whose form lacks a required field (【关闭客户】 without its reason). Never for a plain 【删除】: asked always.
  function bound(button) {
    var form = button.form;
    if (!form) { return true; }
    if ("checkFirst" in button.dataset && !form.checkValidity()) { return false; }
    if (form.classList.contains("crm-bulk") &&
        !document.querySelector('input[name="pk"][form="' + form.id + '"]:checked')) { return false; }
    var needed = button.dataset.needs && form.elements.namedItem(button.dataset.needs);
    return !(needed && !needed.value);
  }
  document.body.addEventListener("htmx:confirm", function (e) {
    var trigger = e.detail.triggeringEvent;
    var button = trigger && trigger.submitter;
    var question = button && button.dataset && button.dataset.confirm;
    if (!question) { return; }
    e.preventDefault();
    if (!bound(button) || window.confirm(question)) { e.detail.issueRequest(true); }
  });
  document.body.addEventListener("htmx:responseError", function (e) { failure(e, "errorLabel"); });
  document.body.addEventListener("htmx:sendError", function (e) { failure(e, "offlineLabel"); });

  function openRow(tr) {
    open(tr.dataset.tabKey, tr.dataset.tabTitle, tr.dataset.href, true);
  }

  // Typing in a record's form marks its tab, so that opening the record again does not throw the typing away.
  document.addEventListener("input", function (e) {
    var form = e.target.closest && e.target.closest(".crm-pane form:not(.crm-search)");
    if (form) { form.closest(".crm-pane").dataset.dirty = "1"; }
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var pane = e.detail.target.closest && e.detail.target.closest(".crm-pane");
    if (pane && e.detail.target === pane) { delete pane.dataset.dirty; }
  });
  // What was typed is kept when the login ran out under it: a form posted to a session that has ended is answered
  // with a redirect to the login page (HX-Redirect), and the form's fields go to this browser tab's storage first.
  // Logged in again, the workspace reopens its tabs; the form, shown again, gets them back, with a word saying so.
  var DRAFTS = "crm-drafts";
  var DRAFT_HOURS = 12;
  function draftKey(form) {  // the address it posts to, and its id or else the names of its fields
    var names = drafted(form).map(function (el) { return el.name + (el.name === "_part" ? "=" + el.value : ""); });
    return (form.getAttribute("hx-post") || form.getAttribute("action") || location.pathname) + "#" +
      (form.id || names.filter(function (n, i) { return names.indexOf(n) === i; }).join(","));
  }
  function drafted(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !el.disabled && el.name !== "csrfmiddlewaretoken" &&
        ["password", "file", "submit", "button", "reset"].indexOf(el.type) < 0;
    });
  }
  function readDrafts() {
    var all = JSON.parse(sessionStorage.getItem(DRAFTS) || "{}");
    Object.keys(all).forEach(function (k) {
      if (Date.now() - all[k].at > DRAFT_HOURS * 3600e3) { delete all[k]; }
    });
    return all;
  }
  function keepDraft(form) {
    var fields = {};
    drafted(form).forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        fields[el.name] = (fields[el.name] || []).concat(el.checked ? [el.value] : []);
      } else if (el.multiple) {
        fields[el.name] = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else {
        fields[el.name] = el.value;
      }
    });
    var all = readDrafts();
    all[draftKey(form)] = { at: Date.now(), fields: fields };
    sessionStorage.setItem(DRAFTS, JSON.stringify(all));
  }
  function restoreDrafts(root) {
    if (!root.querySelectorAll || !sessionStorage.getItem(DRAFTS)) { return; }
    var all = readDrafts();
    root.querySelectorAll("form[method=post]").forEach(function (form) {
      var draft = all[draftKey(form)];
      if (!draft) { return; }
      delete all[draftKey(form)];
      drafted(form).forEach(function (el) {
        if (!(el.name in draft.fields)) { return; }
        var value = draft.fields[el.name];
        if (el.type === "checkbox" || el.type === "radio") {
          el.checked = value.indexOf(el.value) >= 0;
        } else if (el.multiple) {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = value.indexOf(o.value) >= 0; });
        } else {
          el.value = value;
        }
      });
      var note = document.createElement("div");
      note.className = "alert alert-info py-2 small";
      note.setAttribute("role", "status");
      note.dataset.testid = "draft-restored";
      note.textContent = tabs.dataset.draftLabel || "";
      form.prepend(note);
      var pane = form.closest(".crm-pane");
      if (pane) { pane.dataset.dirty = "1"; }
      var panel = form.closest(".tab-pane");  // a record's tab (跟踪记录): brought to the front
      var trigger = panel && !panel.classList.contains("active") &&
        document.querySelector('[data-bs-target="#' + panel.id + '"]');
      if (trigger && window.bootstrap) { window.bootstrap.Tab.getOrCreateInstance(trigger).show(); }
    });
    sessionStorage.setItem(DRAFTS, JSON.stringify(all));
  }
  document.body.addEventListener("htmx:beforeOnLoad", function (e) {
    var xhr = e.detail.xhr;
    var to = xhr && xhr.getResponseHeader("HX-Redirect");
    var form = e.detail.elt && (e.detail.elt.tagName === "FORM" ? e.detail.elt : e.detail.elt.closest("form"));
    if (to && to.indexOf(tabs.dataset.loginUrl) === 0 && form &&
        (e.detail.requestConfig.verb || "").toLowerCase() === "post") {
      keepDraft(form);
    }
  });
  document.body.addEventListener("htmx:load", function (e) { restoreDrafts(e.detail.elt || e.target); });
  document.addEventListener("dblclick", function (e) {
    if (e.target.closest("td.crm-tick")) { return; }  // ticking a row twice is not opening it
    var tr = e.target.closest("tr[data-href]");
    if (tr) { openRow(tr); }
  });
  // 【全选本页】 above a list's tick column: every row of this page, and back; it shows whether all are ticked.
  document.addEventListener("change", function (e) {
    var all = e.target.dataset && e.target.dataset.crmTickAll;
    var boxes = function (id) { return document.querySelectorAll('input[name="pk"][form="' + id + '"]'); };
    if (all) {
      boxes(all).forEach(function (box) { box.checked = e.target.checked; });
      return;
    }
    var id = e.target.name === "pk" && e.target.getAttribute("form");
    var head = id && document.querySelector('[data-crm-tick-all="' + id + '"]');
    if (head) {
      head.checked = Array.prototype.every.call(boxes(id), function (box) { return box.checked; });
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.closest && e.target.closest("td.crm-tick")) { return; }  // Enter on a tick box opens nothing
    var tr = e.target.closest && e.target.closest("tr[data-href]");
    if (tr && e.key === "Enter") { openRow(tr); }
  });
})();
